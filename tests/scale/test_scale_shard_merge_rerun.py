"""The cache is the merge point: 4 shards in 4 processes, merged, then a rerun sends nothing."""

import collections
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import lmwrapper
from lmwrapper.testing import ScriptedLm
from lmwrapper.tools.sharding import merge_caches

N_SHARDS = 4

# Shared by the test and the shard processes: 44 distinct prompts (text and chat), 4 of them
# twice, 48 lines in all.
PROMPTS_SRC = textwrap.dedent("""
    from lmwrapper.structs import LmPrompt

    def make_prompts():
        prompts = [LmPrompt(f"What is {i} + {i}?", max_tokens=5, temperature=0) for i in range(36)]
        prompts += [LmPrompt([f"Name a colour, #{i}"], max_tokens=3, temperature=0)
                    for i in range(8)]
        return prompts + [prompts[3], prompts[17], prompts[36], prompts[40]]
""")

SHARD = PROMPTS_SRC + textwrap.dedent("""
    import json, random, sys
    from lmwrapper.tools.sharding import select_shard
    from lmwrapper.testing import ScriptedLm

    k, n, cache, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    prompts = make_prompts()
    random.Random(k).shuffle(prompts)  # each task reads the lines in another order
    lm = ScriptedLm(cache_dir=cache, call_log_path=log)
    _, mine = select_shard(lm, prompts, k, n)
    results = list(lm.predict_many(mine))
    assert not any(r.has_errors for r in results)
    print(json.dumps(sorted({p.get_text_as_string_default_form().replace("\\n", "\\\\n")
                             for p in mine})))
""")


def _make_prompts():
    namespace: dict = {}
    exec(PROMPTS_SRC, namespace)  # noqa: S102  # our own constant: the same prompts as the shards
    return namespace["make_prompts"]()


def _run_shards(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(lmwrapper.__file__).parents[1])}  # this checkout
    children = []
    for k in range(N_SHARDS):
        args = [str(k), str(N_SHARDS), str(tmp_path / f"cache-{k}"), str(tmp_path / f"calls-{k}.log")]
        children.append(subprocess.Popen([sys.executable, "-c", SHARD, *args], env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    taken = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        taken.append(json.loads(out))
    return taken


def _outputs(lm, prompts):
    return [p.to_dict(include_prompt=False) for p in lm.predict_many(prompts)]


def test_four_shards_merged_then_a_full_rerun_sends_nothing_and_matches_one_run(tmp_path):
    prompts = _make_prompts()
    # as the call log writes them: one line each
    distinct = {p.get_text_as_string_default_form().replace("\n", "\\n") for p in prompts}
    assert len(prompts) == 48 and len(distinct) == 44

    taken = _run_shards(tmp_path)
    assert all(taken), "every shard got some prompts"
    calls = collections.Counter()
    for k in range(N_SHARDS):
        calls.update((tmp_path / f"calls-{k}.log").read_text().splitlines())
    assert set(calls) == distinct and set(calls.values()) == {1}  # each answered exactly once
    assert sorted(t for shard in taken for t in shard) == sorted(distinct)

    merged = tmp_path / "merged"
    report = merge_caches([tmp_path / f"cache-{k}" for k in range(N_SHARDS)], merged,
                          progress=False)
    assert (report.added, report.conflict_count, report.rows_read) == (44, 0, 44)

    rerun_log = tmp_path / "rerun.log"
    lm = ScriptedLm(cache_dir=str(merged), call_log_path=str(rerun_log))
    rerun = _outputs(lm, prompts)
    assert lm.last_run.new == 0 and lm.last_run.cached == 48
    assert rerun_log.read_text() == ""

    single = ScriptedLm(cache_dir=str(tmp_path / "unsharded"))
    _outputs(single, prompts)
    assert _outputs(single, prompts) == rerun  # both from a cache: identical, line for line
