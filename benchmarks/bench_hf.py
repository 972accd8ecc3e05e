"""Generated tokens/s on SmolLM2-135M: one prompt at a time vs this backend's batches.

    .venv/bin/python benchmarks/bench_hf.py            # 64 prompts x 32 new tokens, greedy
    .venv/bin/python benchmarks/bench_hf.py --prompts 16 --batch-sizes 8,16

"One at a time" is the seed lmwrapper's way: `model.generate` per prompt (greedy, KV cache).
"Batched" is `predict_many` with the cache off, at each batch size asked for. Every prompt
is forced to generate exactly `--tokens` tokens (no early end-of-sequence), so both sides
do the same work; the run checks that batched greedy tokens equal the one-at-a-time ones.
Prints a Markdown table (median of `--repeats` runs) and the ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SUBJECTS = ["France", "Germany", "Japan", "Brazil", "Kenya", "Canada", "Peru", "Norway",
            "Egypt", "India", "Chile", "Spain", "Italy", "Greece", "Mexico", "Vietnam"]
TEMPLATES = ["Write one sentence about {}.", "What is the capital of {}? Explain briefly.",
             "List three foods people eat in {}.", "Describe the weather in {} in spring."]


def make_texts(n: int) -> list[str]:
    return [TEMPLATES[i % len(TEMPLATES)].format(SUBJECTS[(i // len(TEMPLATES)) % len(SUBJECTS)])
            + " " * (i // 64) for i in range(n)]


def one_at_a_time(lm, texts: list[str], tokens: int) -> tuple[float, list[list[int]]]:
    """The seed's way: `model.generate` per prompt, forced to `tokens` new tokens."""
    import torch

    outs = []
    start = time.perf_counter()
    for t in texts:
        ids = torch.tensor([lm.encoder.encode(_prompt(t, tokens))], device=lm.model.device)
        with torch.inference_mode():
            out = lm.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                    max_new_tokens=tokens, min_new_tokens=tokens,
                                    pad_token_id=lm.pad_id)
        outs.append(out[0, ids.shape[1]:].tolist())
    return time.perf_counter() - start, outs


def batched(lm, texts: list[str], tokens: int, batch_size: int) -> float:
    lm.batch_size = batch_size
    start = time.perf_counter()
    preds = list(lm.predict_many([_prompt(t, tokens) for t in texts], progress=False))
    elapsed = time.perf_counter() - start
    assert all(len(p.completion_tokens) == tokens for p in preds)
    return elapsed


def _prompt(text: str, tokens: int):
    from lmwrapper.core.prompt import LmPrompt

    return LmPrompt([text], max_tokens=tokens, temperature=0, cache=False, logprobs=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--batch-sizes", default="64")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()

    import torch

    from lmwrapper.providers.huggingface import get_huggingface_lm

    torch.set_num_threads(args.threads)
    lm = get_huggingface_lm("smollm2-135m-instruct", device=args.device, cache_default=False)
    _no_early_stop(lm)
    texts = make_texts(args.prompts)
    n_tokens = args.prompts * args.tokens
    print(f"# {platform.processor() or platform.machine()}, torch threads {args.threads}, "
          f"device {lm.model.device}, {args.prompts} prompts x {args.tokens} tokens, greedy",
          file=sys.stderr)

    sizes = [int(b) for b in args.batch_sizes.split(",")]
    times: dict[int, list[float]] = {1: [], **{bs: [] for bs in sizes}}
    for _ in range(args.repeats):  # interleaved, so CPU noise from other work hits both sides
        times[1].append(one_at_a_time(lm, texts, args.tokens)[0])
        for bs in sizes:
            times[bs].append(batched(lm, texts, args.tokens, bs))
    base = statistics.median(times[1])
    rows = [("one at a time (model.generate per prompt)", 1, base, n_tokens / base, 1.0)]
    for bs in sizes:
        med = statistics.median(times[bs])
        rows.append((f"predict_many, batch_size={bs}", bs, med, n_tokens / med, base / med))
    same = _check_same(lm, texts, args.tokens)
    print(f"| device | mode | wall s (median of {args.repeats}) | generated tok/s | speed-up |")
    print("|---|---|---|---|---|")
    for name, _bs, wall, tps, ratio in rows:
        print(f"| {lm.model.device.type} | {name} | {wall:.2f} | {tps:.1f} | {ratio:.1f}x |")
    print(f"batched greedy tokens identical to one-at-a-time: {same}")


def _no_early_stop(lm) -> None:
    """Generate exactly --tokens tokens per prompt on both sides: no end-of-sequence stop."""
    backend = lm.backend
    _ = backend.model  # load the weights first: loading adds the generation config's eos ids
    pad = backend.pad_id  # the padding id stays what it was (it may be an eos id)
    backend.__class__ = type("NoEarlyStop", (type(backend),), {
        "eos_ids": property(lambda self: set()), "pad_id": property(lambda self: pad)})


def _check_same(lm, texts: list[str], tokens: int) -> bool:
    """Greedy tokens from one batch equal plain `model.generate`, one prompt at a time."""
    import torch

    from lmwrapper.providers.huggingface.generation import Row, generate
    from lmwrapper.providers.huggingface.rows import eos_ids

    eos = eos_ids(lm.model.generation_config, lm.tokenizer) | eos_ids(lm.config, None)
    backend = lm.backend
    rows = [Row(backend.encoder.encode(_prompt(t, tokens)), tokens) for t in texts[:16]]
    together = generate(lm.model, rows, backend.pad_id, eos)
    for row, res in zip(rows, together):
        ids = torch.tensor([row.prompt_ids])
        with torch.inference_mode():
            out = lm.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                    max_new_tokens=tokens, pad_token_id=backend.pad_id)
        alone = out[0, ids.shape[1]:].tolist()
        while alone and alone[-1] in eos:
            alone.pop()
        if alone != res.token_ids:
            return False
    return True


if __name__ == "__main__":
    main()
