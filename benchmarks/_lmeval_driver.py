"""Run by `bench_harness.py` with lm-evaluation-harness's own Python (a separate venv).

    python _lmeval_driver.py TASK_DIR MODEL_FOLDER BATCH_SIZE THREADS [LIMIT [chat]]
        ->  JSON lines on stdout

1. `simple_evaluate` on the local YAML task in TASK_DIR with `log_samples` (its first LIMIT
   items; with `chat`, `apply_chat_template=True`, as `lm_eval --apply_chat_template` runs
   it): every choice's (loglikelihood, is_greedy), acc / acc_norm / acc_bytes and the
   (context, continuation) the harness scored, as it reports them, printed as one JSON line.
2. Then, for each line read on stdin, the time of one `HFLM.loglikelihood` on the task's
   requests (the pairs the task built), model loaded once: what the harness spends scoring.
   The caller alternates these with its own timed runs, so both see the same machine load.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    task_dir, folder, batch_size, threads = sys.argv[1:5]
    limit = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] != "0" else None
    chat = sys.argv[6:7] == ["chat"]
    import torch

    torch.set_num_threads(int(threads))
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=folder, dtype="float32", device="cpu", batch_size=int(batch_size))
    manager = TaskManager(include_path=task_dir)
    out = lm_eval.simple_evaluate(model=lm, tasks=["lmwrapper_mc100"], task_manager=manager,
                                  log_samples=True, bootstrap_iters=0, limit=limit,
                                  apply_chat_template=chat)
    assert out is not None
    samples = sorted(out["samples"]["lmwrapper_mc100"], key=lambda s: s["doc_id"])
    items = [{"lls": [float(r[0]) for r in s["filtered_resps"]],
              "is_greedy": [bool(r[1]) for r in s["filtered_resps"]],
              "acc": s["acc"], "acc_norm": s["acc_norm"], "acc_bytes": s["acc_bytes"],
              "pairs": [list(a) for a in s["arguments"]]}
             for s in samples]
    requests = [tuple(a) for s in samples for a in s["arguments"]]
    version = getattr(lm_eval, "__version__", None) or _version()
    print(json.dumps({"lm_eval": version, "items": items}), flush=True)
    from lm_eval.api.instance import Instance

    for _ in sys.stdin:
        inst = [Instance("loglikelihood", {}, req, k) for k, req in enumerate(requests)]
        start, cpu = time.perf_counter(), time.process_time()
        lm.loglikelihood(inst, disable_tqdm=True)
        print(json.dumps({"seconds": time.perf_counter() - start,
                          "cpu": time.process_time() - cpu}), flush=True)


def _version() -> str:
    from importlib.metadata import version

    return version("lm_eval")


if __name__ == "__main__":
    main()
