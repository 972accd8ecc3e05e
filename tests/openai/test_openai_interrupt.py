"""Ctrl-C in the middle of a run: the process stops soon, and what arrived is in the cache."""

import os
import signal
import subprocess
import sys
import textwrap

from lmwrapper.sqlcache import SqlCache

SCRIPT = textwrap.dedent("""
    import sys
    from lmwrapper.openai_wrapper import get_open_ai_lm
    lm = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-interrupt-test",
                        base_url=sys.argv[1], max_concurrency=4, cache_dir=sys.argv[2])
    try:
        for i, pred in enumerate(lm.predict_many([f"question {i}" for i in range(400)])):
            print("got", i, flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
""")


def test_ctrl_c_stops_sending_and_keeps_what_arrived(srv, tmp_path):
    srv.latency = 0.05
    cache_dir = tmp_path / "c"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, srv.base_url, str(cache_dir)],
                            stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("got 10"):
            break
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert "interrupted" in out and proc.returncode == 0
    # the process waited for what it had sent: every request's status is recorded by now
    answered = sum(1 for r in srv.requests if r.status == 200)
    assert 11 <= answered < 400
    rows = SqlCache(cache_dir / "lmwrapper.sqlite").stats()["rows"]
    assert rows == answered  # every answer that arrived was stored, none lost
    assert os.path.exists(cache_dir / "lmwrapper.sqlite")
