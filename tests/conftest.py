"""Shared test setup: offline hub, a fresh cache directory per test, pinned torch threads."""

import os
import signal

import pytest
from compat_constants import SUITE_DAY
from models_dir import prepare

from lmwrapper.providers.huggingface import smollm2

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One torch thread per process (children inherit it through OMP_NUM_THREADS). On 2 cores
# that something else keeps busy (CI's machine may be), two OpenMP threads wait on each
# other: test_harness_reference took 58 s with 2 threads and 32 s with 1 under load, the
# batched-greedy test 22 s and 10 s. LMWRAPPER_TEST_TORCH_THREADS=2 on a quiet machine.
TORCH_THREADS = os.environ.setdefault("LMWRAPPER_TEST_TORCH_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", TORCH_THREADS)
os.environ["LMWRAPPER_PROGRESS"] = "0"
# The fake's batches move one state per poll: poll fast, or each batch test waits seconds.
os.environ.setdefault("LMWRAPPER_BATCH_POLL_S", "0.01")
os.environ.setdefault("LMWRAPPER_BATCH_POLL_MAX_S", "0.05")
# The converted SmolLM2 lives in the suite's own models directory, made once per machine,
# outside the repository and apart from the user's (tests/models_dir.py); subprocesses
# inherit it. Set before any test reads it, and never per test.
os.environ["LMWRAPPER_MODELS_DIR"] = str(prepare(smollm2.FOLDER_NAME))
# The fake answers a retired model with a 404, and the client warns of (or says in a 404's
# hint) a shutdown, by its date. The suite's models were chosen on this day: pinned for both
# (the fake follows the client's $LMWRAPPER_TODAY), a model that retires next month changes
# no test's output then (the 404 and the warnings are tested with dates of their own, in
# test_model_not_found.py and test_model_facts.py). Subprocesses inherit it.
os.environ.setdefault("LMWRAPPER_TODAY", SUITE_DAY.isoformat())
# A suite started in the background by a non-interactive shell (`make test &`, some CI
# runners) inherits SIGINT ignored, and so would every child the Ctrl-C tests start (an
# ignored signal stays ignored across exec): they would wait for a Ctrl-C that never lands.
# A handled one is reset to the default in a child, so Python there installs its own.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    """Each test gets its own cache directory (via the documented environment variable)."""
    d = tmp_path / "lmwrapper-cache"
    monkeypatch.setenv("LMWRAPPER_CACHE_DIR", str(d))
    # Rate-limit buckets shared across processes live per test, not in the machine's temp
    # dir, where another test run's fake server (same port, same test key) would meet them.
    monkeypatch.setenv("LMWRAPPER_RATELIMIT_DIR", str(tmp_path / "ratelimit"))
    return d
