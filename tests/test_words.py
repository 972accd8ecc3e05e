"""Counts in messages agree with their noun: "1 prompt", "cancelled 1 batch", "2 rows"."""

from lmwrapper.core.words import counted, noun


def test_one_is_singular_and_every_other_count_plural():
    assert [counted(n, "prompt") for n in (0, 1, 2)] == ["0 prompts", "1 prompt", "2 prompts"]
    assert counted(1, "batch", "batches") == "1 batch"
    assert counted(3, "batch", "batches") == "3 batches"
    assert (noun(1, "was", "were"), noun(2, "was", "were")) == ("was", "were")


def test_the_run_summary_says_one_prompt():
    from lmwrapper import RunSummary

    assert str(RunSummary(prompts=1, new=1, unique=1, to_send=1, state="finished")).startswith("1 prompt: 0 cached, 1 new")
