"""Issue 7's engine items: answers labelled with their own prompt, bad input refused, cached
errors retried on request, unpriced limits refused, test doubles with their own identity."""

import ast
import dataclasses
from pathlib import Path

import pytest
from cache_file import cache_stats

from lmwrapper import CostLimitExceededError, PermanentProviderError
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.engine.backend import LmBackend
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import ScriptedBackend, ScriptedLm

PACKAGE = Path(__file__).resolve().parent.parent / "lmwrapper"


@pytest.mark.parametrize("rerun", [False, True], ids=["computed", "cached"])
def test_twins_that_differ_in_metadata_each_get_their_own_prompt(rerun):
    prompts = [LmPrompt("same question", temperature=0, metadata={"id": i}) for i in range(4)]
    if rerun:
        list(ScriptedLm().predict_many(prompts[:1]))
    lm = ScriptedLm()
    preds = list(lm.predict_many(prompts))
    assert all(pred.prompt is p for pred, p in zip(preds, prompts))
    assert [pred.prompt.metadata["id"] for pred in preds] == [0, 1, 2, 3]
    assert len({pred.completion_text for pred in preds}) == 1
    assert lm.call_log == ([] if rerun else ["same question"])  # still sent once


def test_twins_that_differ_in_num_completions_each_get_their_own_prompt():
    two = LmPrompt("joke", temperature=0.7, num_completions=2, metadata="a")
    three = dataclasses.replace(two, num_completions=3, metadata="b")
    greedy = [LmPrompt("g", temperature=0, num_completions=k, metadata=k) for k in (1, 3)]
    lm = ScriptedLm()
    got_two, got_three, *got_greedy = lm.predict_many([two, three, *greedy])
    assert len(got_two) == 2 and all(s.prompt is two for s in got_two)
    assert len(got_three) == 3 and all(s.prompt is three for s in got_three)
    assert [s.completion_text for s in got_three[:2]] == [s.completion_text for s in got_two]
    for p, got in zip(greedy, got_greedy):
        assert len(got) == p.num_completions and all(s.prompt is p for s in got)


@pytest.mark.parametrize("bad", ["hello", b"hello", LmPrompt("hello")])
def test_a_single_prompt_where_a_list_is_expected_is_refused(bad):
    lm = ScriptedLm()
    with pytest.raises(TypeError, match=r"predict_many\(\[prompt\]\)"):
        lm.predict_many(bad)
    assert lm.call_log == []


def test_predict_reads_a_list_as_a_chat_and_refuses_a_tuple():
    # A bare list is a chat, as in lmwrapper 0.18; other sequences are still refused.
    assert ScriptedLm().predict(["a", "b"]).prompt == LmPrompt(["a", "b"], max_tokens=100)
    with pytest.raises(TypeError, match="several prompts go to predict_many"):
        ScriptedLm().predict(("a", "b"))


def test_a_bare_string_means_max_tokens_100():
    lm = ScriptedLm()
    assert lm.predict("hi").prompt == LmPrompt("hi", max_tokens=100)
    assert [p.prompt.max_tokens for p in lm.predict_many(["a", "b"])] == [100, 100]


def test_retry_errors_resends_cached_errors_and_replaces_their_rows():
    lm = ScriptedLm()
    lm.enqueue(PermanentProviderError("prompt too long"))
    first = list(lm.predict_many(["p0", "p1"]))
    assert first[0].has_errors and not first[1].has_errors
    again = ScriptedLm()
    assert again.predict("p0").has_errors and again.call_log == []
    retry = ScriptedLm()
    preds = list(retry.predict_many(["p0", "p1"], retry_errors=True))
    assert retry.call_log == ["p0"]  # only the error row is sent again
    assert not preds[0].has_errors and not preds[0].was_cached and preds[1].was_cached
    assert cache_stats()["errors"] == 0
    last = ScriptedLm()
    assert not last.predict(LmPrompt("p0", max_tokens=100)).has_errors and last.call_log == []


class Unpriced(ScriptedBackend):
    """A model whose price nobody knows (the base class's estimate)."""

    def estimate_cost(self, prompts, completion_window=CompletionWindow.ASAP, *, samples=None):
        return LmBackend.estimate_cost(self, prompts, completion_window, samples=samples)


class UnpricedLm(ScriptedLm):
    backend_class = Unpriced


def test_max_cost_usd_with_an_unpriced_model_is_refused_before_sending():
    lm = UnpricedLm("mystery-model")
    with pytest.raises(CostLimitExceededError,
                       match="cannot bound the cost of mystery-model: pass input_usd_per_mtok"):
        lm.predict_many(["a", "b"], max_cost_usd=1.0)
    assert lm.call_log == []
    assert len(list(lm.predict_many(["a"]))) == 1  # without a limit it runs


def test_a_local_model_is_free_so_max_cost_usd_holds():
    class Local(Unpriced):
        runs_locally = True

    class LocalLm(UnpricedLm):
        backend_class = Local

    est = LocalLm().estimate_cost([LmPrompt("a")])
    assert est.priced and est.free and est.total_usd == 0
    assert len(list(LocalLm().predict_many(["a"], max_cost_usd=0.0))) == 1


def test_a_scripted_lm_with_another_answer_function_is_not_served_stale_answers():
    def shout(prompt, n):
        return prompt.text.upper()

    def whisper(prompt, n):
        return prompt.text.lower()

    assert ScriptedLm(answer=shout).predict("Hi").completion_text == "HI"
    assert ScriptedLm(answer=whisper).predict("Hi").completion_text == "hi"
    again = ScriptedLm(answer=shout)
    assert again.predict("Hi").was_cached and again.call_log == []
    assert ScriptedLm().model_identity() == {"provider": "scripted", "model": "scripted"}


def test_token_limit_check_only_swallows_cannot_count():
    assert ScriptedLm().could_completion_go_over_token_limit(LmPrompt("a")) is False

    class BuggyBackend(ScriptedBackend):
        token_limit = 100

        def estimate_tokens_in_prompt(self, prompt):
            raise KeyError("a bug in the tokenizer glue")

    class Buggy(ScriptedLm):
        backend_class = BuggyBackend

    with pytest.raises(KeyError, match="bug"):
        Buggy().could_completion_go_over_token_limit(LmPrompt("a", max_tokens=5))


def test_the_engine_does_not_import_its_front_door():
    """The plan and the run see the model as `plan.Model`; only the front door
    (`engine/predictor.py`) imports them, not the other way, not even for types."""
    for name in ("plan.py", "run.py"):
        tree = ast.parse((PACKAGE / "engine" / name).read_text())
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "lmwrapper.engine.predictor" not in modules, name


@pytest.mark.parametrize("text", ["a\ud800b", ["hi", "x\udcff"]])
def test_a_lone_surrogate_is_refused_by_position_before_anything_is_sent(text, tmp_path):
    lm = ScriptedLm(cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"prompt 1: its text holds \\ud[8c]..?.?, a lone surrogate"):
        lm.predict_many(["fine", LmPrompt(text, max_tokens=3)])
    assert lm.call_log == []  # was a UnicodeEncodeError traceback from the cache key
