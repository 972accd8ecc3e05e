"""The background windows (BACKGROUND_2H, BACKGROUND_8H): OpenAI's Responses background mode.

Each request is created with `background: true` and `background_options.completion_window`,
recorded before it is created, polled until it ends, priced at the window's discount (30 % /
40 % off standard: OpenAI's flex guide, `providers/openai/tiers.py`), and adopted by a rerun
after a SIGKILL (a real child process, `tests/openai/background_child.py`). Bodies are checked
against the SDK's `ResponseCreateParams`; the vendored OpenAPI spec (2026-08-21) predates
`background_options`, so only the rest of the body is checked against it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from openai.types.responses import Response, response_create_params

from lmwrapper import ConfigurationError
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.claude_wrapper import get_claude_lm
from lmwrapper.openai_wrapper import AzureConfig, get_open_ai_lm
from lmwrapper.providers.openai.background import OpenAiBackgroundAdapter
from lmwrapper.runners.batch.runner import WaitedTooLong
from lmwrapper.structs import LmPrompt
from tests.openai.conftest import API_KEY
from tests.openai.test_openai_conformance import sdk_violation, spec_properties, spec_violation

ROOT = Path(__file__).resolve().parents[2]
MODEL = "gpt-5-pro"  # Responses-only
BG = (CompletionWindow.BACKGROUND_2H, CompletionWindow.BACKGROUND_8H)


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_S", "0.01")
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_MAX_S", "0.02")


def lm_on(srv, tmp_path, model=MODEL, **kw):
    return get_open_ai_lm(model, api_key_secret=API_KEY, base_url=srv.base_url,
                          cache_dir=str(tmp_path), **kw)


def creates(srv):
    return [r for r in srv.requests if r.route == "responses.create"]


def created_texts(srv):
    return sorted(r.body["input"][0]["content"] for r in creates(srv))


# -- price ---------------------------------------------------------------------------------
def test_background_windows_cost_30_and_40_percent_below_standard(srv, tmp_path):
    lm = lm_on(srv, tmp_path)
    prompts = [LmPrompt(f"What is {i} squared?", max_tokens=500) for i in range(100)]
    asap = lm.estimate_cost(prompts, CompletionWindow.ASAP)
    assert asap.priced and asap.total_usd > 0
    for window, share in zip(BG, (0.7, 0.6)):
        est = lm.estimate_cost(prompts, window)
        assert est.input_usd == pytest.approx(asap.input_usd * share)
        assert est.output_usd == pytest.approx(asap.output_usd * share)


def test_a_background_run_creates_polls_stores_and_bills_at_the_window_rate(srv, tmp_path):
    prompts = [LmPrompt(f"What is {i}+{i}?", max_tokens=400, reasoning_effort="high")
               for i in range(4)]
    lm = lm_on(srv, tmp_path)
    preds = list(lm.predict_many(prompts, CompletionWindow.BACKGROUND_8H))
    assert not [p.error_message for p in preds if p.has_errors]
    sent = creates(srv)
    assert len(sent) == 4
    for r in sent:
        body = r.body
        assert body["background"] is True and body["store"] is True
        assert body["background_options"] == {"completion_window": "8h"}
        assert "service_tier" not in body  # "require ... Standard processing"
        assert sdk_violation(body, response_create_params.ResponseCreateParamsNonStreaming) \
            is None, body
        rest = {k: v for k, v in body.items() if k != "background_options"}
        assert spec_violation(rest, "CreateResponse") is None, rest
    assert [r for r in srv.requests if r.route == "responses.retrieve"]
    for p in preds:  # billed at 60 % of the standard price of its usage
        assert p.cost_usd == pytest.approx(lm.price.cost(p.usage) * 0.6)
        assert p.completion_text and p.reasoning
    again = list(lm_on(srv, tmp_path).predict_many(prompts, CompletionWindow.BACKGROUND_8H))
    assert len(creates(srv)) == 4 and all(a.was_cached for a in again)
    # an ASAP run finds the same answers: the window is how it was paid for, not what it says
    asap = list(lm_on(srv, tmp_path).predict_many(prompts))
    assert len(creates(srv)) == 4 and [a.completion_text for a in asap] == \
        [p.completion_text for p in preds]


def test_the_vendored_spec_predates_background_options():
    # when tests/data/openai-openapi is refreshed past it, check the whole body against it
    assert "background" in spec_properties("CreateResponse")
    assert "background_options" not in spec_properties("CreateResponse")


# -- which models ---------------------------------------------------------------------------
@pytest.mark.parametrize("window", BG, ids=lambda w: w.value)
def test_only_a_model_sent_to_the_responses_api_takes_a_background_window(srv, tmp_path, window):
    with pytest.raises(ValueError, match="api='responses'"):
        lm_on(srv, tmp_path, "gpt-5.4-mini").check_window(window)
    lm_on(srv, tmp_path, "gpt-5.4-mini", api="responses").check_window(window)
    lm_on(srv, tmp_path).check_window(window)
    with pytest.raises(ValueError, match="no background mode"):
        get_claude_lm("claude-haiku-4-5", api_key_secret="sk-ant-x").check_window(window)
    azure = get_open_ai_lm("gpt-4o-mini", azure=AzureConfig(endpoint=srv.url,
                                                            deployment="team-4o-mini"))
    with pytest.raises(ValueError, match="Azure"):
        azure.check_window(window)
    with pytest.raises(ValueError, match="api='responses'"):  # refused before anything is sent
        lm_on(srv, tmp_path, "gpt-5.4-mini").predict_many([LmPrompt("q")], window)
    assert not srv.requests


# -- the fake refuses what the API refuses --------------------------------------------------
def test_the_fake_speaks_background_mode_and_refuses_what_the_api_refuses(srv):
    client = openai.OpenAI(api_key=API_KEY, base_url=srv.base_url, max_retries=0)

    def create(**kw):
        return client.responses.create(model=MODEL, input="q", **kw)

    for kw in ({"background_options": {"completion_window": "2h"}},  # without background
               {"background": True, "background_options": {"completion_window": "2h"},
                "service_tier": "flex"},  # not Standard processing
               {"background": True, "background_options": {"completion_window": "3h"}}):
        with pytest.raises(openai.BadRequestError):
            create(**kw)
    made = create(background=True, background_options={"completion_window": "2h"}, store=True)
    assert made.status == "queued" and not made.output
    assert client.responses.retrieve(made.id).status == "in_progress"
    done = client.responses.retrieve(made.id)
    assert done.status == "completed" and done.output_text
    other = create(background=True, store=True)
    assert client.responses.cancel(other.id).status == "cancelled"
    assert client.responses.retrieve(other.id).status == "cancelled"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_nobody")
    # every state the fake shows is a Response by the SDK's own model (pydantic, strict types)
    raw = client.responses.with_raw_response.retrieve(made.id)
    Response.model_validate(json.loads(raw.text))
    for got in (made, done, client.responses.retrieve(other.id)):
        Response.model_validate(got.model_dump())


# -- failures -------------------------------------------------------------------------------
def test_a_response_cancelled_at_the_provider_is_a_transient_error_a_rerun_sends_again(
        srv, tmp_path, monkeypatch):
    orig = OpenAiBackgroundAdapter.create

    def create_then_cancel(self, job, marker, window):  # someone cancels it in the dashboard
        made = orig(self, job, marker, window)
        with srv.lock:
            srv.state.background[made["id"]]["cancelled"] = True
        return made

    monkeypatch.setattr(OpenAiBackgroundAdapter, "create", create_then_cancel)
    (pred,) = list(lm_on(srv, tmp_path).predict_many([LmPrompt("q")],
                                                      CompletionWindow.BACKGROUND_2H))
    assert pred.has_errors and pred.error_is_transient and "cancelled" in pred.error_message
    monkeypatch.setattr(OpenAiBackgroundAdapter, "create", orig)
    (again,) = list(lm_on(srv, tmp_path).predict_many([LmPrompt("q")],
                                                       CompletionWindow.BACKGROUND_2H))
    assert not again.has_errors and len(creates(srv)) == 2



def test_an_answer_that_cannot_be_read_is_kept_and_read_by_the_rerun_paid_once(
        srv, tmp_path, monkeypatch):
    orig = OpenAiBackgroundAdapter.create

    def create_then_garble(self, job, marker, window):  # a completed answer we cannot parse
        made = orig(self, job, marker, window)
        with srv.lock:
            entry = srv.state.background[made["id"]]
            entry["good"], entry["final"] = entry["final"], {**entry["final"], "output": 7}
        return made

    prompts = [LmPrompt("unreadable")]
    monkeypatch.setattr(OpenAiBackgroundAdapter, "create", create_then_garble)
    (pred,) = list(lm_on(srv, tmp_path).predict_many(prompts, CompletionWindow.BACKGROUND_2H))
    monkeypatch.setattr(OpenAiBackgroundAdapter, "create", orig)
    assert pred.has_errors and pred.error_is_transient and "malformed" in pred.error_message
    with srv.lock:  # the provider's answer was fine all along (our parser was at fault)
        for entry in srv.state.background.values():
            entry["final"] = entry.pop("good")
    (again,) = list(lm_on(srv, tmp_path).predict_many(prompts, CompletionWindow.BACKGROUND_2H))
    assert not again.has_errors and len(creates(srv)) == 1  # read, not created again


def test_samples_past_one_per_response_are_cut_into_one_response_each(srv, tmp_path):
    lm = lm_on(srv, tmp_path)  # the Responses API has no `n`
    got = list(lm.predict_many([LmPrompt("count", max_tokens=20, num_completions=3)],
                               CompletionWindow.BACKGROUND_2H))
    assert len(got) == 1 and len(got[0]) == 3 and not any(p.has_errors for p in got[0])
    assert len(creates(srv)) == 3 == len({p.sample_index for p in got[0]})


def test_a_create_whose_answer_was_lost_is_not_sent_again_until_a_rerun_says_so(srv, tmp_path):
    srv.lose_responses(endpoint="responses.create")  # created at the fake, the answer lost
    (pred,) = list(lm_on(srv, tmp_path).predict_many([LmPrompt("q")],
                                                      CompletionWindow.BACKGROUND_2H))
    assert pred.has_errors and pred.error_is_transient and "may have" in pred.error_message
    assert len(creates(srv)) == 1
    with pytest.warns(UserWarning, match="may have been created, and billed"):
        (again,) = list(lm_on(srv, tmp_path).predict_many([LmPrompt("q")],
                                                           CompletionWindow.BACKGROUND_2H))
    assert not again.has_errors and len(creates(srv)) == 2  # the lost one was billed too


def test_a_refusal_that_is_ours_stops_the_run_before_more_are_created(srv, tmp_path):
    srv.inject("status", status=401, endpoint="responses.create", times=None,
               code="invalid_api_key", message="Incorrect API key provided")
    prompts = [LmPrompt(f"q{i}") for i in range(20)]
    with pytest.raises(ConfigurationError):
        list(lm_on(srv, tmp_path, max_concurrency=4).predict_many(
            prompts, CompletionWindow.BACKGROUND_2H))
    assert len(creates(srv)) <= 4  # each worker's first create at most, then no more
    srv.clear_faults()
    answers = list(lm_on(srv, tmp_path).predict_many(prompts, CompletionWindow.BACKGROUND_2H))
    assert not any(a.has_errors for a in answers)


def test_max_wait_leaves_them_running_and_an_asap_run_of_one_warns(srv, tmp_path, monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_MAX_WAIT_S", "0.000001")  # give up after one poll
    prompts = [LmPrompt(f"q{i}") for i in range(3)]
    with pytest.raises(WaitedTooLong, match="3 background responses still run"):
        list(lm_on(srv, tmp_path).predict_many(prompts, CompletionWindow.BACKGROUND_2H))
    monkeypatch.delenv("LMWRAPPER_BATCH_MAX_WAIT_S")
    assert len(creates(srv)) == 3
    with pytest.warns(UserWarning, match="1 prompt of this run has background"):
        list(lm_on(srv, tmp_path).predict_many(prompts[:1]))  # ASAP: sent again, live
    assert len(creates(srv)) == 4
    answers = list(lm_on(srv, tmp_path).predict_many([*prompts, LmPrompt("q9")],
                                                     CompletionWindow.BACKGROUND_2H))
    assert not any(a.has_errors for a in answers)
    assert created_texts(srv) == ["q0", "q0", "q1", "q2", "q9"]  # q1, q2 adopted


@pytest.mark.parametrize(("code", "cached"), [("server_error", False), ("invalid_prompt", True)])
def test_a_failed_response_is_cached_only_when_the_prompt_is_at_fault(srv, tmp_path,
                                                                      monkeypatch, code, cached):
    orig = OpenAiBackgroundAdapter.create

    def create_to_fail(self, job, marker, window):
        made = orig(self, job, marker, window)
        with srv.lock:
            srv.state.background[made["id"]]["error"] = {"code": code, "message": "no"}
        return made

    monkeypatch.setattr(OpenAiBackgroundAdapter, "create", create_to_fail)
    unreadable = srv.malformed_responses(endpoint="responses.retrieve")  # polled again
    (pred,) = list(lm_on(srv, tmp_path).predict_many([LmPrompt("q")],
                                                      CompletionWindow.BACKGROUND_2H))
    assert unreadable.fired == 1
    assert pred.has_errors and code in pred.error_message
    assert pred.error_is_transient is not cached
    monkeypatch.setattr(OpenAiBackgroundAdapter, "create", orig)
    (again,) = list(lm_on(srv, tmp_path).predict_many([LmPrompt("q")],
                                                       CompletionWindow.BACKGROUND_2H))
    assert again.was_cached is cached and len(creates(srv)) == (1 if cached else 2)

# -- SIGKILL, then rerun ----------------------------------------------------------------------
N = 4


def child(srv, point, out, cache_dir):
    env = {**os.environ, "LMWRAPPER_BATCH_POLL_S": "0.01", "LMWRAPPER_BATCH_POLL_MAX_S": "0.02"}
    args = [sys.executable, "-m", "tests.openai.background_child", srv.base_url, point, str(N),
            str(out), str(cache_dir)]
    proc = subprocess.run(args, check=False, cwd=ROOT, env=env, capture_output=True, timeout=120)
    return proc.returncode, proc.stderr.decode()


def test_sigkill_while_polling_then_rerun_adopts_every_response_paid_once(srv, tmp_path):
    code, err = child(srv, "while_polling", tmp_path / "killed.json", tmp_path)
    assert code == -signal.SIGKILL, err
    assert created_texts(srv) == [f"q{i}" for i in range(N)]
    assert not [r for r in srv.requests if r.route == "responses.retrieve"]
    code, err = child(srv, "none", tmp_path / "rerun.json", tmp_path)
    assert code == 0, err
    answers = json.loads((tmp_path / "rerun.json").read_text())
    assert len(answers) == N and not any(failed for _, failed, _, _ in answers)
    assert all(cost and cost > 0 for *_, cost in answers)
    assert created_texts(srv) == [f"q{i}" for i in range(N)]  # adopted: one create per prompt
    code, err = child(srv, "none", tmp_path / "third.json", tmp_path)
    third = json.loads((tmp_path / "third.json").read_text())
    assert code == 0 and all(cached for _, _, cached, _ in third)
    assert [a[0] for a in third] == [a[0] for a in answers]
    assert len(creates(srv)) == N


def test_sigkill_inside_a_create_says_what_may_have_been_paid_and_sends_it_again(srv, tmp_path):
    code, err = child(srv, "inside_create", tmp_path / "killed.json", tmp_path)
    assert code == -signal.SIGKILL, err
    assert created_texts(srv) == ["q0", "q1"]  # q1 created, its id never recorded
    code, err = child(srv, "none", tmp_path / "rerun.json", tmp_path)
    assert code == 0, err
    assert "may have been created, and billed" in err and "lmwrapper_marker=" in err
    answers = json.loads((tmp_path / "rerun.json").read_text())
    assert not any(failed for _, failed, _, _ in answers)
    # q0 adopted; q1 created again (the Responses API cannot list what the dead run made)
    assert created_texts(srv) == ["q0", "q1", "q1", "q2", "q3"]



# -- the command line -----------------------------------------------------------------------
def test_cli_dry_run_prices_the_background_windows_and_window_runs_one(srv, tmp_path, capsys,
                                                                      monkeypatch):
    from tests.openai.test_service_tiers import cli, jsonl, side_by_side

    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    src = jsonl(tmp_path / "in.jsonl", [{"prompt": f"q{i}", "max_tokens": 500}
                                        for i in range(100)])
    assert cli(srv, tmp_path, "--model", f"openai/{MODEL}", src, "--dry-run") == 0
    windows = side_by_side(capsys.readouterr().out)

    def usd(name):
        return float(windows[name].split("$")[1].split()[0].replace(",", ""))

    assert usd("background-2h") == pytest.approx(usd("asap") * 0.7, rel=5e-3)
    assert usd("background-8h") == pytest.approx(usd("asap") * 0.6, rel=5e-3)
    assert not srv.requests
    out = tmp_path / "out.jsonl"
    assert cli(srv, tmp_path, "--model", f"openai/{MODEL}", src, "--window", "background-8h",
               "--max-wait", "60", "-o", str(out)) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 100 and all(r["completion_text"] for r in rows)
    assert {r.body["background_options"]["completion_window"] for r in creates(srv)} == {"8h"}


def test_the_docs_background_example_runs(srv, monkeypatch, capsys):
    from docs_blocks import python_blocks

    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    (block,) = python_blocks("costs-and-models.md", "Background windows")
    exec(compile(block, "docs/costs-and-models.md[Background windows]", "exec"), {})  # noqa: S102
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("3 prompts") and out[-1] == "[True, True, True]"
    assert {r.body["background_options"]["completion_window"] for r in creates(srv)} == {"8h"}


def test_ctrl_c_in_a_background_run_says_the_responses_go_on(srv, tmp_path, capsys):
    from argparse import Namespace

    from lmwrapper.cli.run import _interrupted

    code = _interrupted(lm_on(srv, tmp_path), [LmPrompt("q")], CompletionWindow.BACKGROUND_2H,
                        Namespace(no_cache=False))
    assert code == 130
    assert "a rerun in a background window collects them" in capsys.readouterr().err


def test_batch_list_shows_background_responses_and_abandon_cancels_and_forgets_one(
        srv, tmp_path, capsys, monkeypatch):
    """A `--window background-2h` run left waiting: `lmwrapper batch list` shows each of its
    responses, and `lmwrapper batch abandon ID` cancels that one at the provider (through the
    SDK) and forgets it; a rerun creates that prompt anew and adopts the others."""
    from lmwrapper.cli.main import main

    monkeypatch.setenv("LMWRAPPER_BATCH_MAX_WAIT_S", "0.000001")  # give up after one poll
    prompts = [LmPrompt(f"q{i}") for i in range(3)]
    with pytest.raises(WaitedTooLong):
        list(lm_on(srv, tmp_path).predict_many(prompts, CompletionWindow.BACKGROUND_2H))
    monkeypatch.delenv("LMWRAPPER_BATCH_MAX_WAIT_S")
    capsys.readouterr()
    assert main(["--cache-dir", str(tmp_path), "batch", "list"]) == 0
    listed = capsys.readouterr().out
    assert "3 background responses not yet collected" in listed
    assert all(rid in listed for rid in srv.state.background), listed

    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    gone = next(iter(srv.state.background))
    assert main(["--cache-dir", str(tmp_path), "batch", "abandon", gone,
                 "--base-url", srv.base_url]) == 0
    assert "abandoned background response" in capsys.readouterr().out
    assert srv.state.background[gone]["cancelled"] and srv.count("responses.cancel") == 1
    assert main(["--cache-dir", str(tmp_path), "batch", "list"]) == 0
    listed = capsys.readouterr().out
    assert "2 background responses" in listed and gone not in listed
    answers = list(lm_on(srv, tmp_path).predict_many(prompts, CompletionWindow.BACKGROUND_2H))
    assert not any(a.has_errors for a in answers)
    assert len(creates(srv)) == 4  # the abandoned one created again, the other two adopted
    assert main(["--cache-dir", str(tmp_path), "batch", "abandon", gone]) == 2  # forgotten
