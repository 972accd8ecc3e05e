"""FLEX and PRIORITY: OpenAI's service tiers as completion windows. Sent live with
`service_tier` (Chat Completions and the Responses API, the lean path and the SDK's), billed
at the tier that served each request (genai-prices' per-tier rates, checked here against
genai-prices' own `calc_price`), refused before anything is sent where the model is not
sold at the tier; flex's 429 "Resource Unavailable" retried within the run's bounds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price
from openai.types.chat import completion_create_params

from lmwrapper import CompletionWindow, RetryPolicy
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.structs import LmPrompt
from tests.openai.conftest import API_KEY
from tests.openai.test_openai_conformance import sdk_violation, spec_violation
from tests.openai.test_openai_responses import assert_conforms

FLEX, PRIORITY = CompletionWindow.FLEX, CompletionWindow.PRIORITY
CHAT_TYPE = completion_create_params.CompletionCreateParamsNonStreaming
FAST = RetryPolicy(max_retries=2, initial_backoff_s=0.001, max_backoff_s=0.005)


def genai_cost(model: str, usage, tier: str | None) -> float:
    """genai-prices' own price of `usage` at `tier` (None: the default tier)."""
    context = {"service_tier": tier} if tier else None
    calc = calc_price(Usage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens),
                      model, provider_id="openai", price_context=context)
    return float(Decimal(calc.total_price))


def lm_on(srv, model: str, tmp_path, **kw):
    kw.setdefault("timeout_s", 900)  # as OpenAI advises for flex
    return get_open_ai_lm(model, api_key_secret=API_KEY, base_url=srv.base_url,
                          cache_dir=str(tmp_path), **kw)


def model_calls(srv) -> list:
    return [r for r in srv.requests if r.route in ("chat.completions", "responses.create")]


@pytest.mark.parametrize(("api", "path"), [("chat", "lean"), ("chat", "sdk"),
                                           ("responses", "lean")])
def test_flex_is_sent_billed_at_the_flex_rate_and_a_rerun_at_asap_sends_nothing(
        api, path, srv, monkeypatch, tmp_path):
    if path == "sdk":
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
    prompts = [LmPrompt(f"What is {i}+{i}?", max_tokens=40) for i in range(4)]
    lm = lm_on(srv, "gpt-5.4-mini", tmp_path, api=api)
    preds = list(lm.predict_many(prompts, FLEX))
    assert not [p.error_message for p in preds if p.has_errors]
    calls = model_calls(srv)
    assert len(calls) == 4 and all(r.body["service_tier"] == "flex" for r in calls)
    for r in calls:
        if api == "chat":
            assert sdk_violation(r.body, CHAT_TYPE) is None
            assert spec_violation(r.body, "CreateChatCompletionRequest") is None
        else:
            assert_conforms(r.body)
    for p in preds:
        assert p.cost_usd == pytest.approx(genai_cost("gpt-5.4-mini", p.usage, "flex"))
        assert p.cost_usd == pytest.approx(genai_cost("gpt-5.4-mini", p.usage, None) / 2)
    # the tier is how it was paid for, not what was asked: the same key at any window
    again = list(lm_on(srv, "gpt-5.4-mini", tmp_path, api=api).predict_many(prompts))
    assert len(model_calls(srv)) == 4 and all(a.was_cached for a in again)
    assert [a.cost_usd for a in again] == [p.cost_usd for p in preds]


def test_asap_sends_no_service_tier(srv, tmp_path):
    lm_on(srv, "gpt-5.4-mini", tmp_path).predict(LmPrompt("q", max_tokens=20))
    assert "service_tier" not in model_calls(srv)[0].body


def test_priority_is_billed_at_the_tier_that_served_it(srv, tmp_path):
    lm = lm_on(srv, "gpt-5.4-mini", tmp_path, cache_outputs_default=False)
    served = lm.predict_many([LmPrompt("a", max_tokens=30)], PRIORITY)
    (p,) = list(served)
    assert model_calls(srv)[-1].body["service_tier"] == "priority"
    assert p.cost_usd == pytest.approx(genai_cost("gpt-5.4-mini", p.usage, "priority"))
    assert p.cost_usd > genai_cost("gpt-5.4-mini", p.usage, None)
    srv.downgrade_tiers = {"priority"}  # "may be different from the value set" (the SDK)
    (d,) = list(lm.predict_many([LmPrompt("a", max_tokens=30)], PRIORITY))
    assert d.cost_usd == pytest.approx(genai_cost("gpt-5.4-mini", d.usage, None))


def test_flex_429s_are_retried_and_every_prompt_is_paid_once(srv, tmp_path):
    srv.flex_unavailable = 0.5  # every other flex request: "429 Resource Unavailable"
    prompts = [LmPrompt(f"q{i}", max_tokens=20) for i in range(6)]
    # one prompt at a time: from the second on, each one's first try is refused and its
    # retry answered (the first flex request got through)
    lm = lm_on(srv, "gpt-5-mini", tmp_path, retry=FAST)
    preds = []
    for prompt in prompts:
        with lm.predict_many([prompt], FLEX) as results:
            preds.append(next(results))
    assert not [p.error_message for p in preds if p.has_errors]
    answered = [r for r in model_calls(srv) if r.status == 200]
    refused = [r for r in model_calls(srv) if r.status == 429]
    assert len(answered) == 6 and len(refused) == 5
    assert all(r.body["service_tier"] == "flex" for r in refused)


def test_flex_refused_past_the_retries_is_a_transient_error_not_cached(srv, tmp_path):
    srv.flex_unavailable = 1.0
    lm = lm_on(srv, "gpt-5-mini", tmp_path, retry=FAST)
    (p,) = list(lm.predict_many([LmPrompt("q", max_tokens=20)], FLEX))
    assert p.has_errors and p.error_is_transient and "Resource Unavailable" in p.error_message
    assert len(model_calls(srv)) == 1 + FAST.max_retries  # bounded; never the default tier
    assert all(r.body["service_tier"] == "flex" for r in model_calls(srv))
    srv.flex_unavailable = 0.0
    (again,) = list(lm.predict_many([LmPrompt("q", max_tokens=20)], FLEX))
    assert not again.has_errors and not again.was_cached


@pytest.mark.parametrize(("model", "window", "why"), [
    ("gpt-4o-mini", FLEX, "not sold at OpenAI's flex tier"),
    ("gpt-5-nano", PRIORITY, "not sold at OpenAI's priority tier"),
    ("gpt-3.5-turbo-instruct", FLEX, "/v1/completions has no service tiers"),
])
def test_a_tier_the_model_is_not_sold_at_is_refused_before_sending(model, window, why, srv,
                                                                   tmp_path):
    lm = lm_on(srv, model, tmp_path)
    with pytest.raises(ValueError, match=why):
        lm.predict_many([LmPrompt("q", max_tokens=20)], window)
    with pytest.raises(ValueError, match=why):
        lm.check_window(window)
    assert not srv.requests


def test_given_prices_carry_no_tier_rates(srv, tmp_path):
    lm = lm_on(srv, "gpt-5-mini", tmp_path, input_usd_per_mtok=1.0, output_usd_per_mtok=2.0)
    with pytest.raises(ValueError, match="given prices carry no tier rates"):
        lm.predict_many([LmPrompt("q", max_tokens=20)], FLEX)


def test_claude_has_no_flex_or_priority_window(tmp_path):
    from lmwrapper.claude_wrapper import get_claude_lm

    lm = get_claude_lm("claude-sonnet-4-6", api_key_secret="sk-ant-test-0123456789abcdef",
                       cache_dir=str(tmp_path))
    for window in (FLEX, PRIORITY):
        with pytest.raises(ValueError, match="Anthropic sells no"):
            lm.predict_many([LmPrompt("q", max_tokens=20)], window)


@pytest.mark.parametrize(("tier", "why"), [("turbo", "Invalid value: 'turbo'"),
                                         ("scale", "not available for the model")])
def test_the_fake_refuses_what_the_api_would(tier, why, srv):
    import openai

    client = openai.OpenAI(api_key=API_KEY, base_url=srv.base_url, max_retries=0)
    with pytest.raises(openai.BadRequestError, match=why):
        client.chat.completions.create(model="gpt-5-mini", service_tier=tier,  # type: ignore[arg-type]
                                       messages=[{"role": "user", "content": "q"}])
    with pytest.raises(openai.BadRequestError, match="not available for the model"):
        client.chat.completions.create(model="gpt-4o-mini", service_tier="flex",
                                       messages=[{"role": "user", "content": "q"}])


# -- lmwrapper run --window, and the dry run's windows side by side ---------------------------
def cli(srv, tmp_path, *args: str) -> int:
    from lmwrapper.cli.main import main

    return main(["--cache-dir", str(tmp_path / "cache"), "run", *args,
                 "--base-url", srv.base_url])


def jsonl(path, rows) -> str:
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def side_by_side(out: str) -> dict[str, str]:
    lines = out.split("cost by window (upper bound):\n", 1)[1].splitlines()
    return {line.split()[0]: line.split(None, 1)[1] for line in lines if line.startswith("  ")}


@pytest.mark.parametrize("model", ["gpt-5.4-mini", "o4-mini"])
def test_dry_run_prices_each_window_as_genai_prices_does(model, srv, tmp_path, capsys,
                                                         monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    src = jsonl(tmp_path / "in.jsonl", [{"prompt": f"Question {i}: what is {i} squared?",
                                         "max_tokens": 500} for i in range(1000)])
    assert cli(srv, tmp_path, "--model", f"openai/{model}", src, "--dry-run") == 0
    out = capsys.readouterr().out
    counts = next(x for x in out.splitlines() if x.startswith("input tokens"))
    n_in, n_out = (int(w) for w in counts.replace(":", " ").split() if w.isdigit())
    assert n_out == 500_000
    usage = Usage(input_tokens=n_in, output_tokens=n_out)
    windows = side_by_side(out)
    contexts = {"asap": None, "flex": {"service_tier": "flex"},
                "batch": {"processing": "batch"}, "priority": {"service_tier": "priority"}}
    assert set(windows) == set(contexts) | {"background-2h", "background-8h"}
    # a Chat Completions model has no background mode (tests/openai/test_background.py)
    assert windows["background-2h"].startswith("OpenAI's Responses API only")
    for name, context in contexts.items():
        shown = float(windows[name].split("$")[1].split()[0].replace(",", ""))
        theirs = calc_price(usage, model, provider_id="openai", price_context=context)
        # as `format_usd` shows it: three significant digits below $1, cents above
        assert shown == pytest.approx(float(theirs.total_price), rel=5e-3), name
    assert not srv.requests


def test_dry_run_says_which_windows_a_model_is_not_sold_in(srv, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    src = jsonl(tmp_path / "in.jsonl", ["q"])
    assert cli(srv, tmp_path, "--model", "openai/gpt-5-nano", src, "--dry-run") == 0
    windows = side_by_side(capsys.readouterr().out)
    assert windows["priority"] == "not sold for this model" and windows["flex"].startswith("$")


def test_run_window_flex_sends_flex_and_refuses_a_model_without_it(srv, tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    src = jsonl(tmp_path / "in.jsonl", ["a", "b"])
    out = tmp_path / "out.jsonl"
    assert cli(srv, tmp_path, "--model", "openai/gpt-5.4-mini", src, "--window", "flex",
               "-o", str(out)) == 0
    assert [r.body["service_tier"] for r in model_calls(srv)] == ["flex", "flex"]
    capsys.readouterr()
    assert cli(srv, tmp_path, "--model", "openai/gpt-4o-mini", src, "--window", "flex") == 2
    assert "not sold at OpenAI's flex tier" in capsys.readouterr().err
    assert cli(srv, tmp_path, "--model", "openai/gpt-5.4-mini", src, "--window", "flex",
               "--batch") == 2
    assert "two windows" in capsys.readouterr().err
    assert len(model_calls(srv)) == 2


def test_the_docs_windows_example_runs(srv, monkeypatch, capsys):
    from docs_blocks import python_blocks

    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    (block,) = python_blocks("costs-and-models.md", "Completion windows")
    exec(compile(block, "docs/costs-and-models.md[Completion windows]", "exec"), {})  # noqa: S102
    out = capsys.readouterr().out.splitlines()
    bound = {line.split()[0]: float(line.split()[1]) for line in out[:-1]}
    assert bound["FLEX"] == pytest.approx(bound["ASAP"] / 2, rel=1e-3) == \
        pytest.approx(bound["BATCH_ANY"], rel=1e-3)
    assert bound["PRIORITY"] == pytest.approx(bound["ASAP"] * 2, rel=1e-3)
    assert bound["BACKGROUND_2H"] == pytest.approx(bound["ASAP"] * 0.7, rel=1e-3)
    assert bound["BACKGROUND_8H"] == pytest.approx(bound["ASAP"] * 0.6, rel=1e-3)
    assert out[-1:] == ["True"]
    assert [r.body["service_tier"] for r in model_calls(srv)] == ["flex"] * 3


def test_flex_with_a_shorter_deadline_than_openai_advises_warns_once(srv, tmp_path):
    lm = lm_on(srv, "gpt-5.4-mini", tmp_path, timeout_s=300)
    with pytest.warns(UserWarning, match="OpenAI advises 900 s") as caught:
        list(lm.predict_many([LmPrompt(f"q{i}", max_tokens=20) for i in range(3)], FLEX))
    assert len([w for w in caught if "advises" in str(w.message)]) == 1
    patient = lm_on(srv, "gpt-5.4-mini", tmp_path, timeout_s=900, cache_outputs_default=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list(patient.predict_many([LmPrompt("q", max_tokens=20)], FLEX))


def test_asap_and_batch_plans_do_not_look_the_price_up(srv, tmp_path):
    lm = lm_on(srv, "gpt-5.4-mini", tmp_path)
    for window in (CompletionWindow.ASAP, CompletionWindow.BATCH_ANY):
        lm.check_window(window)
    assert "price" not in vars(lm)  # a fully cached run never loads the price data
