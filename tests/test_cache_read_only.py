"""A cache that cannot be written still serves what it holds; files are private (issue 17).

Row 13: a read-only cache (file 0444 in a 0555 folder, read by a process that is bound by
file permissions: as root, one with the capabilities that bypass them dropped) that already
holds every answer serves a fully cached run: before, it was refused. A prompt it does not
answer is refused before anything is sent. And every file the cache creates is 0600, its
folders 0700: before, 0644 (readable by every user of a shared node).
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lmwrapper
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.store.db import CACHE_FILE_NAME
from lmwrapper.testing import FakeServer

PROMPTS = [f"What is {i}+{i}?" for i in range(20)]
KEY = "sk-test-readonly-0123456789"

CHILD = textwrap.dedent("""
    import json, sys
    from lmwrapper.openai_wrapper import get_open_ai_lm
    base_url, cache_dir, prompts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    lm = get_open_ai_lm("gpt-5.4-mini", api_key_secret=KEY, base_url=base_url,
                        cache_dir=cache_dir)
    try:
        got = list(lm.predict_many(prompts))
        out = {"cached": sum(p.was_cached for p in got), "errors": sum(p.has_errors for p in got)}
    except Exception as e:
        out = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out))
""").replace("KEY", repr(KEY))

# root bypasses file permissions through these capabilities; without them it is bound by them
DROP = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner,-linux_immutable"]


def _bound_by_permissions():
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    return DROP


def _run_child(srv, cache_dir, prompts):
    env = {**os.environ, "PYTHONPATH": str(Path(lmwrapper.__file__).parents[1]),
           "LMWRAPPER_PROGRESS": "0"}
    r = subprocess.run([*_bound_by_permissions(), sys.executable, "-c", CHILD, srv.base_url,
                        str(cache_dir), json.dumps(prompts)], env=env, capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture
def srv():
    with FakeServer() as s:
        yield s


@pytest.fixture
def filled(tmp_path, srv):
    cache_dir = tmp_path / "team" / "cache"
    lm = get_open_ai_lm("gpt-5.4-mini", api_key_secret=KEY, base_url=srv.base_url,
                        cache_dir=str(cache_dir))
    assert not any(p.has_errors for p in lm.predict_many(PROMPTS))
    lm.cache.close()  # checkpointed: no -wal or -shm left behind
    srv.clear_log()
    yield cache_dir
    cache_dir.chmod(0o755)


def test_new_cache_files_and_folders_are_private(filled):
    assert stat.S_IMODE(filled.stat().st_mode) == 0o700  # its parents: as `mkdir -p` makes them
    for path in filled.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_read_only_cache_serves_a_fully_cached_run(filled, srv):
    (filled / CACHE_FILE_NAME).chmod(0o444)
    filled.chmod(0o555)
    out = _run_child(srv, filled, PROMPTS)
    assert out == {"cached": len(PROMPTS), "errors": 0}  # before: refused
    assert srv.counts == {}  # billed 0

    out = _run_child(srv, filled, [*PROMPTS, "A prompt it has never seen"])
    assert "CacheFileError" in out["error"] and "cannot be written" in out["error"]
    assert srv.counts == {}  # refused before anything was sent


def test_batch_input_files_are_private(tmp_path):
    from lmwrapper.runners.batch.adapter import BatchLimits
    from lmwrapper.runners.batch.planner import plan_files

    folder = tmp_path / "batch_files"
    lines = [(f"c{i}", b'{"custom_id": "c%d"}\n' % i, 1) for i in range(5)]
    [batch] = plan_files(lines, BatchLimits(), folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(batch.path.stat().st_mode) == 0o600  # before: 0644
