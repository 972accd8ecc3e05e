"""Generated tokens/s on SmolLM2-135M-Instruct: batched `model.generate` vs `predict_many`.

    .venv/bin/python benchmarks/bench_generate.py --repeats 3 --before <checkout of main>

A mixed workload: plain-text prompts (no chat template) of varied lengths, one line to a
paragraph, each with its own `max_tokens` (8 to 64, seeded), greedy, stopping at the model's
end of sequence where it wants to (about half do).
Three ways take turns, each in a fresh process that loads the model once, one torch thread:

- `generate`: what a user would write with plain transformers: the prompts in batches of
  `--batch-size` (sorted by length, as our predictor sorts them: little padding), left-padded,
  `model.generate(do_sample=False, max_new_tokens=<the batch's largest max_tokens>)`, each
  row then cut at its own `max_tokens` and end of turn. A batch runs until its last row ends.
- `before`: `predict_many` at the same `batch_size` from another checkout (`--before`).
- `this`: `predict_many` from this checkout (continuous batching: a finished row's place is
  taken by a waiting prompt).

Tokens/s counts the answers' tokens (the same for all three), over wall time and over the
process's CPU seconds (steadier on a shared machine). Medians of `--repeats`. The run checks
that every way gives the same greedy tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve()

TOPICS = ["France", "volcanoes", "the moon", "bread", "rivers", "chess", "bees", "glass",
          "the printing press", "tides", "penguins", "copper", "jazz", "deserts", "maps", "tea"]
ASKS = ["Name {}.", "What is {}? One sentence.", "Give three facts about {}.",
        "Write a short poem about {}.", "Explain to a child how {} came to be, step by step.",
        "Answer yes or no: is {} older than the pyramids?"]
CONTEXT = ("Here are some notes I took while reading. The book covers history, science and "
           "everyday life, with many examples and a few diagrams. ")


def workload(n: int, seed: int = 0) -> list[tuple[str, int]]:
    """(prompt text, max_tokens): varied lengths, max_tokens 8 to 64."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ask = ASKS[i % len(ASKS)].format(TOPICS[(i * 7) % len(TOPICS)])
        out.append((CONTEXT * rnd.randint(0, 4) + ask, rnd.randint(8, 64)))
    return out


def _lm(batch_size: int):
    import torch

    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    torch.set_num_threads(1)
    lm = get_huggingface_lm("smollm2-135m-instruct", device="cpu", batch_size=batch_size,
                            cache_default=False)
    _ = lm.model
    return lm


def _prompts(n: int):
    from lmwrapper.structs import LmPrompt

    return [LmPrompt(text, max_tokens=m, temperature=0, cache=False) for text, m in workload(n)]


def run_ours(n: int, batch_size: int) -> dict:
    lm = _lm(batch_size)
    prompts = _prompts(n)
    start, cpu = time.perf_counter(), time.process_time()
    preds = list(lm.predict_many(prompts, progress=False))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "tokens": [len(p.completion_tokens) for p in preds],
            "texts": [p.completion_text for p in preds],
            "stopped": sum(p.finish_reason == "stop" for p in preds)}


def run_generate(n: int, batch_size: int) -> dict:
    """Batched `model.generate`, left padding, the batch's largest max_tokens."""
    import torch

    lm = _lm(batch_size)
    prompts = _prompts(n)
    ids = [lm.encoder.encode(p) for p in prompts]
    order = sorted(range(n), key=lambda i: len(ids[i]))
    eos = sorted(lm.eos_ids)
    texts: list[str] = [""] * n
    counts = [0] * n
    start, cpu = time.perf_counter(), time.process_time()
    for s in range(0, n, batch_size):
        batch = order[s:s + batch_size]
        width = max(len(ids[i]) for i in batch)
        x = torch.full((len(batch), width), lm.pad_id, dtype=torch.long)
        mask = torch.zeros_like(x)
        for b, i in enumerate(batch):
            x[b, width - len(ids[i]):] = torch.tensor(ids[i])
            mask[b, width - len(ids[i]):] = 1
        with torch.inference_mode():
            out = lm.model.generate(x, attention_mask=mask, do_sample=False,
                                    max_new_tokens=max(prompts[i].max_tokens for i in batch),
                                    pad_token_id=lm.pad_id, eos_token_id=eos)
        for b, i in enumerate(batch):
            new = out[b, width:].tolist()[:prompts[i].max_tokens]
            cut = next((k for k, t in enumerate(new) if t in lm.eos_ids), len(new))
            counts[i], texts[i] = cut, lm.decode(new[:cut])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "tokens": counts, "texts": texts}


def measure(checkout: Path, mode: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, str(HERE), "--measure", mode, "--prompts", str(args.prompts),
           "--batch-size", str(args.batch_size)]
    env = {**os.environ, "LMWRAPPER_PROGRESS": "0", "PYTHONPATH": str(checkout)}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        raise SystemExit(f"{mode} on {checkout} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--before", type=Path, default=None, help="another checkout, measured too")
    ap.add_argument("--measure", choices=("ours", "generate"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        run = run_ours if args.measure == "ours" else run_generate
        print(json.dumps(run(args.prompts, args.batch_size)))
        return
    this = HERE.parents[1]
    ways = {"generate": (this, "generate")}
    if args.before is not None:
        ways["before"] = (args.before.resolve(), "ours")
    ways["this"] = (this, "ours")
    print(f"# {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
          f"{args.prompts} prompts, batch_size {args.batch_size}, one torch thread, "
          f"medians of {args.repeats}, ways taking turns", file=sys.stderr)
    runs: dict[str, list[dict]] = {w: [] for w in ways}
    for _ in range(args.repeats):
        for w, (checkout, mode) in ways.items():
            runs[w].append(measure(checkout, mode, args))
    tokens = sum(runs["this"][0]["tokens"])
    base = runs["generate"]
    print("| way | wall s | tok/s wall | tok/s per CPU-s | vs generate (wall, CPU) |")
    print("|---|---|---|---|---|")
    for w, rs in runs.items():
        wall, cpu = statistics.median(r["wall"] for r in rs), statistics.median(r["cpu"] for r in rs)
        bw = statistics.median(r["wall"] for r in base)
        bc = statistics.median(r["cpu"] for r in base)
        print(f"| {w} | {wall:.1f} | {tokens / wall:.1f} | {tokens / cpu:.1f} | "
              f"{bw / wall:.2f}x, {bc / cpu:.2f}x |")
    same = all(r["texts"] == base[0]["texts"] for rs in runs.values() for r in rs)
    print(f"{tokens} answer tokens; {runs['this'][0]['stopped']} of {args.prompts} answers "
          f"ended at end of sequence, the others at max_tokens; greedy answers identical "
          f"across ways and repeats: {same}")


if __name__ == "__main__":
    main()
