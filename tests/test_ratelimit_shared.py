"""Many processes, one account: the rate-limit buckets of one (server, key, model) are shared
through a file, so processes pace together instead of meeting through 429s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from lmwrapper.runners.ratelimit import RateLimiter, SharedState, shared_dir
from lmwrapper.testing import FakeServer
from lmwrapper.testing.http import RateWindow

pytestmark = pytest.mark.skipif(shared_dir() is None and sys.platform == "win32",
                                reason="shared buckets need fcntl (POSIX)")

LIMIT, WINDOW_S = 300, 5.0  # "600 requests a minute", scaled: 300 per 5-second window
PROCESSES, PROMPTS_EACH = 4, 300  # demand: 4 windows' worth

CHILD = textwrap.dedent("""
    import json, sys
    import openai  # before "ready": the processes start sending together
    from lmwrapper.openai_wrapper import get_open_ai_lm
    from lmwrapper.structs import LmPrompt

    base_url, cache_dir, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    lm = get_open_ai_lm("gpt-5.4-mini", api_key_secret="sk-test-shared-0123456789",
                        base_url=base_url, max_concurrency=8, cache_dir=cache_dir)
    prompts = [LmPrompt(f"process {tag} prompt {i}", max_tokens=4) for i in range(n)]
    print("ready", flush=True)
    sys.stdin.readline()  # the parent says go once every process is ready
    preds = list(lm.predict_many(prompts))
    print(json.dumps({"errors": sum(p.has_errors for p in preds)}), flush=True)
""")


class RecordingWindow(RateWindow):
    """The fake's fixed window, opening with the first request, recording when each opens."""

    def __init__(self) -> None:
        super().__init__(LIMIT, 10**12, window_s=WINDOW_S)
        self.starts: list[float] = []

    def _roll(self) -> float:
        if not self.starts:
            self._start = time.monotonic()
            self.starts.append(self._start)
        start = self._start
        left = super()._roll()
        if self._start != start:
            self.starts.append(self._start)
        return left


def _run_processes(srv: FakeServer, tmp_path, env: dict[str, str]) -> list[dict]:
    children = [subprocess.Popen(
        [sys.executable, "-c", CHILD, srv.base_url, str(tmp_path / f"cache{i}"),
         str(PROMPTS_EACH), str(i)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for i in range(PROCESSES)]
    try:
        for c in children:
            assert c.stdout.readline().strip() == "ready"
        srv.rate_window = RecordingWindow()
        srv.clear_log()
        for c in children:
            c.stdin.write("go\n")
            c.stdin.flush()
        return [json.loads(c.communicate(timeout=240)[0].splitlines()[-1]) for c in children]
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()


def _calls(srv: FakeServer) -> list:
    return [r for r in srv.requests if r.route == "chat.completions"]


def test_four_processes_share_one_accounts_request_limit(tmp_path):
    env = {**os.environ, "LMWRAPPER_RATELIMIT_DIR": str(tmp_path / "limits")}
    with FakeServer() as srv:
        results = _run_processes(srv, tmp_path, env)
        calls = _calls(srv)
    assert all(r["errors"] == 0 for r in results), results
    ok = [r.at for r in calls if r.status == 200]
    limited = sum(r.status == 429 for r in calls)
    assert len(ok) == PROCESSES * PROMPTS_EACH
    assert limited < 0.01 * len(calls), f"{limited} of {len(calls)} requests got a 429"
    # A window opens with the first request after the previous one closed: time lost
    # between windows is what the processes failed to use. Demand fills 4 windows; over the
    # first 3 they must reach 90 % of LIMIT per WINDOW_S.
    starts = srv.rate_window.starts
    assert len(starts) == 4, starts
    rate = 3 * LIMIT / (starts[3] - starts[0])
    assert rate >= 0.9 * LIMIT / WINDOW_S, f"{rate:.1f} requests/s of {LIMIT / WINDOW_S:g} allowed"


def test_state_survives_in_the_file_and_holds_no_key(tmp_path):
    path = tmp_path / "scope.bucket"
    a = RateLimiter(shared=SharedState(path))
    a.observe({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "2",
               "x-ratelimit-reset-requests": "60s"})
    a.pause(30)
    b = RateLimiter(shared=SharedState(path))  # another process's view of the same scope
    assert b.try_acquire() > 25  # the pause is shared
    assert path.stat().st_size == 96 and b"sk-" not in path.read_bytes()


def test_two_limiters_on_one_file_spend_one_budget(tmp_path):
    path = tmp_path / "scope.bucket"
    a, b = RateLimiter(shared=SharedState(path)), RateLimiter(shared=SharedState(path))
    a.observe({"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "3",
               "x-ratelimit-reset-requests": "600s"})
    granted = [lim.try_acquire() == 0.0 for lim in (a, b, a, b, a, b)]
    assert sum(granted) == 3, granted  # 3 left in total, not 3 each


def test_requests_in_flight_are_not_granted_twice():
    rl = RateLimiter()
    for _ in range(5):  # no limit known yet: 5 requests go out
        assert rl.try_acquire(track=True) == 0.0
    # The first answer says 10 left; the 4 others in flight are not counted by it yet.
    rl.observe({"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "10",
                "x-ratelimit-reset-requests": "6000s"})
    rl.finished()
    granted = sum(rl.try_acquire(track=True) == 0.0 for _ in range(10))
    assert granted == 6


def test_a_file_from_before_a_reboot_is_ignored(tmp_path):
    path = tmp_path / "scope.bucket"
    a = RateLimiter(shared=SharedState(path))
    a.pause(10_000)
    a.requests.limit, a.requests._t = 5.0, time.monotonic() + 10_000
    a.shared.store(a)  # as written by a machine whose monotonic clock was further along
    assert RateLimiter(shared=SharedState(path)).try_acquire() == 0.0


def test_tokens_in_flight_are_not_granted_twice():
    rl = RateLimiter()
    for _ in range(4):  # no limit known yet: 4 requests of 100 tokens go out
        assert rl.try_acquire(100, track=True) == 0.0
    # The first answer says 1,000 tokens left; the 300 tokens of the 3 others are not in it.
    rl.observe({"x-ratelimit-limit-tokens": "100000", "x-ratelimit-remaining-tokens": "1000",
                "x-ratelimit-reset-tokens": "6000s"})
    rl.finished(100)
    granted = sum(rl.try_acquire(100, track=True) == 0.0 for _ in range(10))
    assert granted == 7


HOLDER = textwrap.dedent("""
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("held", flush=True)
    sys.stdin.read()
""")


def test_a_process_stopped_holding_the_file_does_not_stop_the_others(tmp_path):
    """A process stopped (Ctrl-Z, SIGSTOP) while its decision holds the file's lock: the
    others decide alone after one bounded wait instead of blocking until it wakes, and share
    the file again once the lock is free."""
    import signal

    path = tmp_path / "limits"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == "held\n"
        os.kill(holder.pid, signal.SIGSTOP)
        alone = RateLimiter(shared=SharedState(path))
        alone.observe({"x-ratelimit-limit-requests": "100",
                       "x-ratelimit-remaining-requests": "2", "x-ratelimit-reset-requests": "600s"})
        assert alone.try_acquire() == 0.0  # granted from its own bucket
        assert alone.try_acquire() == 0.0
        assert alone.try_acquire() > 0.0  # and its own bucket still paces it
        assert os.path.getsize(path) == 0  # nothing was written under another's lock
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        holder.stdin.close()
        holder.wait(timeout=60)
    later = RateLimiter(shared=SharedState(path))
    later.observe({"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "5",
                   "x-ratelimit-reset-requests": "600s"})
    assert later.try_acquire() == 0.0
    assert os.path.getsize(path) > 0  # the lock is free: the decision is shared again
