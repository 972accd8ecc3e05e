"""`make demo`: a bundled evaluation set through the local model, cached.

    python -m lmwrapper.tools.demo                       # SmolLM2-135M-Instruct, fetched on first use
    python -m lmwrapper.tools.demo --model ./my-model --out preds.jsonl

Runs `lmwrapper/data/eval.jsonl` (capitals and small sums with known answers) through
`predict_many` with the model's chat template, prints accuracy, wall time, generated
tokens/s and the run summary, and writes one JSON line per prediction. A second run is
answered from the SQLite cache without loading the model weights.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

from lmwrapper.core.prompt import LmChatTurn, LmPrediction, LmPrompt
from lmwrapper.providers.registry import get_lm
from lmwrapper.store.db import get_cache_dir

SYSTEM = "Answer with only the answer: a single city name or a single number. No sentence."


def load_eval() -> list[dict[str, Any]]:
    text = resources.files("lmwrapper").joinpath("data/eval.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def make_prompt(question: str) -> LmPrompt:
    return LmPrompt([LmChatTurn("system", SYSTEM), LmChatTurn("user", question)],
                    max_tokens=12, temperature=0, stop=["\n"], cache=True)


def is_correct(pred: LmPrediction, answer: str) -> bool:
    """A number must be the last number in the completion ("3 + 5 = 8"); a name must appear
    in it as whole words, case-insensitive."""
    text = pred.completion_text or ""
    if answer.isdigit():
        numbers = re.findall(r"\d+", text)
        return bool(numbers) and numbers[-1] == answer
    return re.search(rf"(?<!\w){re.escape(answer)}(?!\w)", text, re.IGNORECASE) is not None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--out", default="demo_predictions.jsonl")
    ap.add_argument("--batch-size", type=int, default=None)
    args = ap.parse_args(argv)

    items = load_eval()
    t0 = time.perf_counter()
    lm = get_lm(f"hf/{args.model}", batch_size=args.batch_size)  # torch loads with the model
    print(f"model {lm.model_name()} ready in {time.perf_counter() - t0:.1f} s "
          f"(cache: {get_cache_dir()})")
    start = time.perf_counter()
    preds = [p for p in lm.predict_many([make_prompt(it["question"]) for it in items])
             if isinstance(p, LmPrediction)]  # one prediction per prompt (num_completions=None)
    wall = time.perf_counter() - start
    _report(items, preds, wall, lm)
    _write(Path(args.out), items, preds)
    print(f"predictions written to {args.out}")
    return 0


def _report(items: list[dict[str, Any]], preds: list[Any], wall: float, lm: Any) -> None:
    correct = sum(is_correct(p, it["answer"]) for p, it in zip(preds, items))
    new = [p for p in preds if not p.was_cached and not p.has_errors]
    generated = sum(p.usage.completion_tokens or 0 for p in new)
    for it, p in list(zip(items, preds))[:5]:
        print(f"  {it['question']:<40} -> {p.completion_text!r}")
    print(f"accuracy: {correct}/{len(items)} = {correct / len(items):.0%}")
    if new:
        print(f"wall time: {wall:.2f} s for {len(new)} new predictions (loading the weights "
              f"included), "
              f"{generated} generated tokens = {generated / wall:.1f} tokens/s "
              f"(batch size {lm.batch_size}, {lm.model.device})")
    if len(new) < len(preds):
        print(f"served from the cache: {len(preds) - len(new)}/{len(preds)} predictions "
              f"in {wall:.3f} s" + ("" if new else " (model weights not loaded)"))
    print(f"summary: {lm.last_run} (a local model costs nothing per token)")


def _write(path: Path, items: list[dict[str, Any]], preds: list[LmPrediction]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(_row(it, p), ensure_ascii=False) + "\n" for it, p in zip(items, preds))


def _row(it: dict[str, Any], p: LmPrediction) -> dict[str, Any]:
    return {"id": it["id"], "question": it["question"], "answer": it["answer"],
            "completion": p.completion_text, "correct": is_correct(p, it["answer"]),
            "mean_logprob": p.completion_mean_logprob() if p.completion_logprobs else None,
            "was_cached": p.was_cached, "error": p.error_message}


if __name__ == "__main__":
    sys.exit(main())
