"""Write tests/data/harness_tiny_rolling.json: lm-evaluation-harness's `loglikelihood_rolling`
of a few texts on the tests' tiny GPT-2 (window 128 tokens), for tests/evals/test_rolling.py.

    python scripts/harness_rolling_reference.py --lmeval-python /path/to/lmeval-venv/bin/python

Run with lmwrapper's Python: it builds the tiny GPT-2 exactly as the tests do
(tests/tiny_gpt2.py, the corpus of tests/huggingface/conftest.py; seeded, so the same
weights), saves it, and runs `HFLM(pretrained=folder, max_length=128).loglikelihood_rolling`
in the harness's Python on texts of 60, 128 (the window), 129 and ~321 tokens (2 and 3
windows). The suite needs no lm_eval installed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "harness_tiny_rolling.json"
WINDOW = 128  # the tiny GPT-2's n_positions


def harness(folder: str, texts: list[str]) -> dict:
    """In lm_eval's Python: the harness's own `loglikelihood_rolling`, one request a text."""
    import torch

    torch.set_num_threads(1)
    import lm_eval
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=folder, dtype="float32", device="cpu", batch_size=1,
              max_length=WINDOW)
    assert lm.max_length == WINDOW
    requests = [Instance("loglikelihood_rolling", {}, (t,), i) for i, t in enumerate(texts)]
    return {"lm_eval": lm_eval.__version__, "torch": torch.__version__,
            "logprobs": [float(x) for x in lm.loglikelihood_rolling(requests)]}


def texts(tokenizer, corpus: list[str]) -> list[str]:
    """A long text and prefixes of it with a given number of tokens (the window's edges)."""
    long = " ".join(corpus[:5]) * 3
    def count(s: str) -> int:
        return len(tokenizer(s, add_special_tokens=False)["input_ids"])

    chosen = [long]
    for want in (60, WINDOW, WINDOW + 1):
        chosen.append(next(long[:k] for k in range(len(long)) if count(long[:k]) == want))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmeval-python", default=os.environ.get("LMEVAL_PYTHON"),
                        required="LMEVAL_PYTHON" not in os.environ)
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT / "tests" / "huggingface"), str(ROOT / "tests")]
    from conftest import CORPUS  # tests/huggingface's
    from tiny_gpt2 import build_tiny_gpt2
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_gpt2(Path(tmp), CORPUS, vocab_size=400, n_embd=64, n_head=4)
        chosen = texts(AutoTokenizer.from_pretrained(folder), CORPUS)
        code = (f"import json, sys; sys.path.insert(0, {str(ROOT / 'scripts')!r}); "
                "from harness_rolling_reference import harness; "
                "print(json.dumps(harness(sys.argv[1], json.loads(sys.stdin.read()))))")
        run = subprocess.run([args.lmeval_python, "-c", code, str(folder)], check=True,
                             input=json.dumps(chosen), capture_output=True, text=True)
    got = json.loads(run.stdout.strip().splitlines()[-1])
    data = {"source": f"lm-evaluation-harness {got['lm_eval']} (torch {got['torch']}): "
                      f"HFLM(pretrained=<tiny GPT-2>, dtype='float32', device='cpu', "
                      f"batch_size=1, max_length={WINDOW}).loglikelihood_rolling, made by "
                      "`python scripts/harness_rolling_reference.py --lmeval-python ...`",
            "date": date.today().isoformat(),
            "window": WINDOW, "texts": chosen, "logprobs": got["logprobs"]}
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {got['logprobs']}")


if __name__ == "__main__":
    main()
