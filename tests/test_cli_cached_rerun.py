"""A fully cached `lmwrapper run` writes its lines with the collector off and the plan frozen
out of its scans (cli/run.py `write_answers`): the same lines and exit code as the run that
paid for them, an error line in the middle included, and the collector as it was after."""

import gc
import json

import pytest

from lmwrapper.cli.main import main
from lmwrapper.testing import FakeServer


@pytest.fixture
def srv(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-cached-rerun-key")
    with FakeServer() as s:
        yield s


def run(srv, tmp_path, out, *args):
    return main(["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-4o-mini",
                 "--base-url", srv.base_url, str(tmp_path / "in.jsonl"), "-o",
                 str(tmp_path / out), *args])


def test_rerun_from_cache_same_lines_exit_code_and_collector(srv, tmp_path, capsys):
    srv.context_limit = 20  # the middle line is over the fake's window: its own error, cached
    lines = [{"id": "a", "prompt": "q0", "label": 1}, {"id": "b", "prompt": "q1 " + "word " * 50},
             {"id": "c", "prompt": "q2", "temperature": 0.5}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({**x, "max_tokens": 5}) + "\n"
                                               for x in lines))
    assert run(srv, tmp_path, "paid.jsonl") == 1
    assert gc.isenabled() and gc.get_freeze_count() == 0
    sent = len(srv.requests)
    assert run(srv, tmp_path, "cached1.jsonl") == 1
    assert run(srv, tmp_path, "cached2.jsonl") == 1
    assert len(srv.requests) == sent  # answered by the cache alone
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert capsys.readouterr().err.count("1 of 3 prompts failed") == 3
    paid = [json.loads(x) for x in (tmp_path / "paid.jsonl").read_text().splitlines()]
    cached = (tmp_path / "cached1.jsonl").read_bytes()
    assert cached == (tmp_path / "cached2.jsonl").read_bytes()
    again = [json.loads(x) for x in cached.decode().splitlines()]
    assert [r["id"] for r in again] == ["a", "b", "c"] and again[1]["error_message"]
    assert all(r["was_cached"] for r in again)
    for r in [*paid, *again]:
        del r["was_cached"]
    assert again == paid


def test_prompts_checked_once_and_only_for_their_model(srv, tmp_path):
    """`lmwrapper run` validates each line once (naming a bad one); a plan of the prompts
    checked for its model does not validate them again, a plan for another model or of a
    plain list does."""
    from lmwrapper import CompletionWindow, LmPrompt, get_lm
    from lmwrapper.engine.plan import CheckedPrompts, InvalidPromptError, Plan, checked_prompts

    kw = {"cache_dir": str(tmp_path / "c"), "base_url": srv.base_url}
    lm, other = get_lm("openai/gpt-4o-mini", **kw), get_lm("openai/gpt-4o", **kw)
    good, bad = LmPrompt("a", max_tokens=5), LmPrompt("c", max_tokens=5, echo=True)
    with pytest.raises(InvalidPromptError, match="LmPrompt.echo") as e:
        checked_prompts(lm.backend, [good, bad])
    assert e.value.index == 1 and isinstance(e.value, ValueError)
    assert checked_prompts(lm.backend, [good]) == [good]
    # marked as checked by lm (only checked_prompts does so): its plan takes them as they are
    Plan(lm, CheckedPrompts([good, bad], lm.backend), CompletionWindow.ASAP)
    for model, prompts in ((other, CheckedPrompts([good, bad], lm.backend)), (lm, [good, bad])):
        with pytest.raises(ValueError, match="LmPrompt.echo"):
            Plan(model, prompts, CompletionWindow.ASAP)


@pytest.mark.parametrize("change", ["append", "setitem", "insert", "extend", "iadd"])
def test_a_checked_list_given_a_prompt_afterwards_is_validated_again(srv, tmp_path, change):
    """A caller's later change cannot slip an unchecked prompt past the plan."""
    from lmwrapper import CompletionWindow, LmPrompt, get_lm
    from lmwrapper.engine.plan import Plan, checked_prompts

    lm = get_lm("openai/gpt-4o-mini", cache_dir=str(tmp_path / "c"), base_url=srv.base_url)
    good, bad = LmPrompt("a", max_tokens=5), LmPrompt("c", max_tokens=5, echo=True)
    checked = checked_prompts(lm.backend, [good, good])
    checked.pop()  # taking out or reordering keeps the mark
    checked.reverse()
    assert checked.backend is lm.backend
    if change == "append":
        checked.append(bad)
    elif change == "setitem":
        checked[0] = bad
    elif change == "insert":
        checked.insert(0, bad)
    elif change == "extend":
        checked.extend([bad])
    else:
        checked += [bad]
    assert checked.backend is None
    with pytest.raises(ValueError, match="LmPrompt.echo"):
        Plan(lm, checked, CompletionWindow.ASAP)
