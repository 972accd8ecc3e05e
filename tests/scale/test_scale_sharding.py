"""Shards of a dataset: deterministic by cache key, independent of line order, complete."""

import argparse
import random

import pytest

from lmwrapper.structs import LmPrompt
from lmwrapper.testing import ScriptedLm
from lmwrapper.tools.sharding import (
    add_shard_argument,
    apply_shard,
    parse_shard,
    select_shard,
    shard_of,
)


def _prompts(n=120):
    return [LmPrompt(f"question {i}", max_tokens=5, temperature=0) for i in range(n)]


def test_shard_of_is_a_fixed_function_of_the_key_and_spreads_evenly():
    # Pinned values: a shard must not move between machines, runs or lmwrapper versions.
    # sha256 of the key, first 8 bytes big-endian, modulo n.
    assert [shard_of(k, 4) for k in ("a", "b", "d", "0" * 64)] == [2, 2, 1, 3]
    assert [shard_of(k, 1000) for k in ("a", "b")] == [250, 946]
    assert shard_of("a", 1) == 0
    counts = [0] * 4
    for i in range(4000):
        counts[shard_of(f"key-{i}", 4)] += 1
    assert all(800 < c < 1200 for c in counts), counts
    with pytest.raises(ValueError, match=">= 1"):
        shard_of("a", 0)


def test_shards_partition_the_input_whatever_its_order(tmp_path):
    lm = ScriptedLm(cache_dir=str(tmp_path))
    prompts = _prompts()
    prompts.append(prompts[7])  # a duplicate goes where its twin goes: never sent twice
    seen: dict[str, int] = {}
    for k in range(4):
        indices, chosen = select_shard(lm, prompts, k, 4)
        assert chosen == [prompts[i] for i in indices] and indices == sorted(indices)
        assert chosen, f"shard {k} is empty"
        for p in chosen:
            assert seen.setdefault(p.text, k) == k
        shuffled = prompts[:]
        random.Random(k).shuffle(shuffled)
        _, chosen_shuffled = select_shard(lm, shuffled, k, 4)
        assert {p.text for p in chosen_shuffled} == {p.text for p in chosen}
    assert set(seen) == {p.text for p in prompts}


def test_the_shard_depends_on_the_model_identity_and_every_prompt_field(tmp_path):
    prompts = _prompts()
    a = select_shard(ScriptedLm("model-a", cache_dir=str(tmp_path)), prompts, 0, 2)[0]
    b = select_shard(ScriptedLm("model-b", cache_dir=str(tmp_path)), prompts, 0, 2)[0]
    assert a != b  # the key holds the model: 120 prompts split the same way by chance is ~0
    hot = [LmPrompt(p.text, max_tokens=5, temperature=0.5) for p in prompts]
    assert select_shard(ScriptedLm("model-a", cache_dir=str(tmp_path)), hot, 0, 2)[0] != a


@pytest.mark.parametrize("spec,expected", [("0/4", (0, 4)), (" 3/4 ", (3, 4)), ("0/1", (0, 1))])
def test_parse_shard_k_of_n(spec, expected):
    assert parse_shard(spec, environ={}) == expected


@pytest.mark.parametrize("spec,message", [
    ("4/4", r"0\.\.3"), ("-1/4", r"0\.\.3"), ("1/0", ">= 1"), ("3", "K/N"), ("a/b", "K/N"),
    ("", "K/N"),
])
def test_parse_shard_refuses_bad_specs_with_the_fix(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_shard(spec, environ={})


@pytest.mark.parametrize("env,expected", [
    ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, (2, 4)),
    ({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "4"},
     (1, 4)),
    ({"SLURM_ARRAY_TASK_ID": "20", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0",
      "SLURM_ARRAY_TASK_STEP": "10"}, (2, 4)),
])
def test_parse_shard_auto_reads_the_slurm_array(env, expected):
    assert parse_shard("auto", environ=env) == expected


@pytest.mark.parametrize("env,message", [
    ({}, "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT"),
    ({"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "4"}, "--array=0-3"),
    ({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "4"}, "not numbers"),
])
def test_parse_shard_auto_outside_a_usable_array_says_what_to_do(env, message):
    with pytest.raises(ValueError, match=message):
        parse_shard("auto", environ=env)


def test_the_cli_hook_takes_this_shards_prompts_and_ids(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_shard_argument(parser)
    lm = ScriptedLm(cache_dir=str(tmp_path))
    prompts = _prompts(40)
    ids = [f"q{i}" for i in range(40)]
    assert apply_shard(parser.parse_args([]), lm, prompts, ids) == (prompts, ids)
    taken = [apply_shard(parser.parse_args(["--shard", f"{k}/3"]), lm, prompts, ids)
             for k in range(3)]
    assert sorted(i for _, shard_ids in taken for i in shard_ids) == sorted(ids)
    for shard_prompts, shard_ids in taken:
        assert [f"q{p.text.split()[1]}" for p in shard_prompts] == shard_ids
    assert "shard 2/3:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["--shard", "3/3"])
    assert "0..2" in capsys.readouterr().err


def test_the_cli_hook_reads_slurm_for_auto(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    parser = argparse.ArgumentParser()
    add_shard_argument(parser)
    lm = ScriptedLm(cache_dir=str(tmp_path))
    prompts = _prompts(30)
    got, _ = apply_shard(parser.parse_args(["--shard", "auto"]), lm, prompts, [None] * 30)
    assert got == select_shard(lm, prompts, 1, 2)[1]
