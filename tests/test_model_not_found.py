"""A misspelt or retired model name: the provider's first 404 ends the run with one
`ModelNotFoundError` (the model's name, "did you mean …"), nothing more is sent beyond the
requests already in flight, nothing is cached for that model, and a rerun with the right
name works. Live (the lean client and the SDK) and batch, over the loopback fake.

The models are built with their facts given (`context_window=`, `max_output_tokens=`), so
the misspelt name reaches the server whether or not the local model tables know it."""

from __future__ import annotations

import datetime as dt

import pytest
from cache_file import cache_stats
from compat_constants import SUITE_DAY

from lmwrapper import ModelNotFoundError
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.engine.plan import uncached
from lmwrapper.providers.anthropic.models import SOURCES as CLAUDE_SOURCES
from lmwrapper.providers.openai.models import SOURCES
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import FakeServer
from tests.api_providers import ANTHROPIC, OPENAI, PROVIDERS, Provider

N = 30
CONCURRENCY = 4
# (misspelt name, the right one, the facts that let the misspelt one be sent)
NAMES = {
    "openai": ("gpt-4o-mni", "gpt-4o-mini", {"context_window": 128_000,
                                             "max_output_tokens": 16_384}),
    "anthropic": ("claude-sonet-4-6", "claude-sonnet-4-6", {"context_window": 200_000,
                                                            "max_output_tokens": 8_192}),
}


@pytest.fixture
def srv(monkeypatch):
    for provider in PROVIDERS:
        monkeypatch.delenv(provider.base_url_env_var, raising=False)
    with FakeServer() as s:
        s.missing_models = {bad for bad, _, _ in NAMES.values()}
        yield s


def prompts(n: int = N) -> list[LmPrompt]:
    return [LmPrompt(f"q{i}", max_tokens=5) for i in range(n)]


def misspelt(provider: Provider, srv: FakeServer, **kw):
    bad, _, facts = NAMES[provider.name]
    return provider.make(srv, bad, max_concurrency=CONCURRENCY, **facts, **kw)


def right(provider: Provider, srv: FakeServer, **kw):
    return provider.make(srv, NAMES[provider.name][1], max_concurrency=CONCURRENCY, **kw)


def assert_one_clear_error(error: ModelNotFoundError, provider: Provider) -> None:
    bad, good, _ = NAMES[provider.name]
    text = str(error)
    assert error.model == bad and error.status_code in (404, None)
    assert f"model {bad!r} not found" in text and f"did you mean {good!r}" in text
    assert "`lmwrapper models`" in text and "\n" not in text
    assert provider.key not in text


def assert_rerun_with_the_right_name_works(provider: Provider, srv: FakeServer, **run) -> None:
    preds = list(right(provider, srv).predict_many(prompts(), **run))
    assert len(preds) == N and not any(p.has_errors for p in preds)


@pytest.mark.parametrize(("provider", "http"), [(OPENAI, "lean"), (OPENAI, "sdk"),
                                                (ANTHROPIC, "lean")], ids=str)
def test_a_live_run_stops_at_the_first_404(srv, monkeypatch, provider, http):
    if http == "sdk":
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
    lm = misspelt(provider, srv)
    with pytest.raises(ModelNotFoundError) as info:
        list(lm.predict_many(prompts()))
    assert_one_clear_error(info.value, provider)
    sent = srv.count(provider.route)
    # the requests in flight when the first 404 came back, and no more (the bound leaves
    # room for a worker that was already between taking a prompt and sending it)
    assert 1 <= sent <= 2 * CONCURRENCY < N
    assert len(uncached(lm, prompts())[0]) == N and cache_stats()["rows"] == 0
    assert_rerun_with_the_right_name_works(provider, srv)


def test_answers_received_before_the_404_stay_stored(srv):
    lm = OPENAI.make(srv, "gpt-4o-mini", max_concurrency=1)
    srv.inject("status", status=404, times=None, retry_after=None, match="q3",
               code="model_not_found", message="The model `gpt-4o-mini` does not exist or "
               "you do not have access to it.")
    with pytest.raises(ModelNotFoundError):
        list(lm.predict_many(prompts(10)))
    todo, _ = uncached(lm, prompts(10))
    assert {p.text for p in todo} >= {f"q{i}" for i in range(3, 10)}
    assert {"q0", "q1", "q2"}.isdisjoint(p.text for p in todo)  # one at a time: in order


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_a_batch_run_ends_with_the_error_instead_of_resubmitting(srv, provider):
    lm = misspelt(provider, srv)
    with pytest.raises(ModelNotFoundError) as info:
        list(lm.predict_many(prompts(), completion_window=CompletionWindow.BATCH_ANY))
    assert_one_clear_error(info.value, provider)
    creates = "batches.create" if provider is OPENAI else "messages.batches.create"
    assert srv.count(creates) == 1  # no second batch for the lines that failed
    assert len(uncached(lm, prompts())[0]) == N and cache_stats()["rows"] == 0
    assert_rerun_with_the_right_name_works(provider, srv,
                                           completion_window=CompletionWindow.BATCH_ANY)


def test_a_batch_create_answered_404_is_not_retried_as_a_batch_that_is_gone(srv):
    lm = misspelt(OPENAI, srv)
    srv.inject("status", status=404, times=None, retry_after=None, endpoint="batches.create",
               code="model_not_found", message="The model `gpt-4o-mni` does not exist or you "
               "do not have access to it.")
    with pytest.raises(ModelNotFoundError) as info:
        list(lm.predict_many(prompts(3), completion_window=CompletionWindow.BATCH_ANY))
    assert_one_clear_error(info.value, OPENAI)
    assert srv.count("batches.create") == 1


def test_the_fake_answers_openais_exact_404(srv):
    import openai

    client = openai.OpenAI(base_url=srv.base_url, api_key=OPENAI.key, max_retries=0)
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o-mni", max_tokens=5,
                                       messages=[{"role": "user", "content": "hi"}])
    assert info.value.body == {
        "message": "The model `gpt-4o-mni` does not exist or you do not have access to it.",
        "type": "invalid_request_error", "param": None, "code": "model_not_found"}


def test_the_fake_answers_anthropics_exact_404(srv):
    import anthropic

    client = anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key=ANTHROPIC.key,
                                 max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="claude-sonet-4-6", max_tokens=5,
                               messages=[{"role": "user", "content": "hi"}])
    body = dict(info.value.body)
    body.pop("request_id")
    assert body == {"type": "error", "error": {"type": "not_found_error",
                                               "message": "model: claude-sonet-4-6"}}


def test_the_fake_retires_a_model_after_its_sdk_announced_shutdown_date():
    from lmwrapper.core.models import sdk_shutdowns

    shutdowns = sdk_shutdowns(SOURCES)
    if not shutdowns:
        pytest.skip("the installed openai SDK lists no shutdown dates")
    name, shutdown = max(shutdowns.items(), key=lambda kv: kv[1])
    with FakeServer(today=shutdown) as srv:  # on the day itself it still answers
        assert not srv.model_missing("openai", name)
        srv.today = shutdown + dt.timedelta(days=1)
        assert srv.model_missing("openai", name)
        # a name no source lists is the real API's 404 too, unless the test serves it
        assert srv.model_missing("openai", "a-name-in-no-table")
        srv.extra_models.add("a-name-in-no-table")
        assert not srv.model_missing("openai", "a-name-in-no-table")


def test_the_fake_404s_a_name_no_model_list_knows_and_serves_fine_tunes_of_known_ones():
    with FakeServer() as srv:  # nothing listed missing: the model lists alone decide
        assert srv.model_missing("openai", "gpt-4o-mni")
        assert srv.model_missing("anthropic", "claude-sonet-4-6")
        assert not srv.model_missing("openai", "gpt-4o-mini")
        assert not srv.model_missing("openai", "ft:gpt-4o-mini-2024-07-18:my-org::abc123")
        assert not srv.model_missing("anthropic", ANTHROPIC.model)


def test_lmwrapper_run_prints_one_line_and_exits_non_zero(srv, tmp_path, monkeypatch, capsys):
    from lmwrapper.cli.main import main

    monkeypatch.setenv("OPENAI_API_KEY", OPENAI.key)
    srv.missing_models = {"gpt-4o"}  # a name the local tables know: it reaches the server
    src = tmp_path / "in.jsonl"
    src.write_text("".join(f'"q{i}"\n' for i in range(N)))
    code = main(["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-4o",
                 "--base-url", srv.base_url, str(src), "-o", str(tmp_path / "out.jsonl")])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "ModelNotFoundError: model 'gpt-4o' not found" in err and "lmwrapper models" in err
    assert srv.count("chat.completions") < N


def test_a_retired_name_is_not_its_own_did_you_mean():
    from lmwrapper.core.models import model_not_found_hint, sdk_shutdowns

    shutdowns = sdk_shutdowns(SOURCES)
    if not shutdowns:
        pytest.skip("the installed openai SDK lists no shutdown dates")
    name, _ = max(shutdowns.items(), key=lambda kv: kv[1])
    past, future = dt.date(2026, 6, 15), SUITE_DAY + dt.timedelta(days=30)
    hint = model_not_found_hint(SOURCES, name, past)
    assert f"shut down on {past}" in hint and f"{name!r}" not in hint
    # a 404 before the shutdown date is not a retirement (it said "was shut down" then)
    hint = model_not_found_hint(SOURCES, name, future)
    assert "shut down on" not in hint and f"shutdown is set for {future}" in hint


@pytest.mark.parametrize("sources", [SOURCES, CLAUDE_SOURCES], ids=["openai", "anthropic"])
def test_did_you_mean_offers_a_name_until_its_shutdown(sources, monkeypatch):
    from lmwrapper.core.models import model_not_found_hint, sdk_shutdowns, suggestions

    # the SDK's own table (openai's ChatModel docstring, anthropic's DEPRECATED_MODELS)
    ahead = {n: d for n, d in sdk_shutdowns(sources).items() if d > SUITE_DAY}
    if not ahead:
        pytest.skip("the installed SDK announces no shutdown after the suite's day")
    name, shutdown = max(ahead.items(), key=lambda kv: (kv[1], len(kv[0])))
    typo = f"{name}x"
    monkeypatch.setenv("LMWRAPPER_TODAY", (shutdown - dt.timedelta(days=1)).isoformat())
    assert name in suggestions(sources, typo) and repr(name) in model_not_found_hint(sources, typo)
    monkeypatch.setenv("LMWRAPPER_TODAY", shutdown.isoformat())  # its last day: not advice
    assert name not in suggestions(sources, typo)
    assert repr(name) not in model_not_found_hint(sources, typo)


def test_did_you_mean_never_offers_a_name_the_sdk_keeps_only_for_compatibility():
    from lmwrapper.core.models import (
        current_names,
        model_not_found_hint,
        sdk_model_names,
        sdk_unsupported,
        suggestions,
    )

    # openai's ChatModel docstring: `"gpt-5.1-mini": Not a supported model ID. Retained for
    # SDK compatibility.` (openai 3.63.0, checked 2026-12-07)
    unsupported = sdk_unsupported(SOURCES)
    if not unsupported:
        pytest.skip("the installed openai SDK keeps no name only for compatibility")
    for name in unsupported:
        assert name in sdk_model_names(SOURCES) and name not in current_names(SOURCES)
        assert name not in suggestions(SOURCES, name[:-1], cutoff=0.6)
        assert repr(name) not in model_not_found_hint(SOURCES, name[:-1])
    assert current_names(SOURCES)  # the rest of the list still is


def test_an_openai_batch_failed_for_its_model_ends_the_run(srv):
    lm = misspelt(OPENAI, srv)
    srv.fail_next_batch("model_not_found", message="The model `gpt-4o-mni` does not exist "
                        "or you do not have access to it.")
    with pytest.raises(ModelNotFoundError) as info:
        list(lm.predict_many(prompts(3), completion_window=CompletionWindow.BATCH_ANY))
    assert_one_clear_error(info.value, OPENAI)
    assert srv.count("batches.create") == 1 and cache_stats()["rows"] == 0
