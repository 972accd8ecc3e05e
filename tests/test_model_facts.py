"""Model facts come from sources maintained for us, and this year's models work.

genai-prices is the reference for prices and context windows: our rates must give the cost
its own `calc_price` gives for the same usage (so a tier or a cache rate cannot drift), and
the SDKs' own model lists and deprecation tables decide what is current and what retires.
"""

from __future__ import annotations

import datetime as dt
import tomllib
import warnings
from pathlib import Path

import pytest

import lmwrapper
from lmwrapper import ModelRetiringWarning, UnknownModelError
from lmwrapper.core import models as model_facts
from lmwrapper.core.money import Price
from lmwrapper.providers.anthropic import models as claude_models
from lmwrapper.providers.anthropic.request import ClaudePrice
from lmwrapper.providers.openai import models as openai_models
from lmwrapper.structs import LmUsage

CURRENT = ["openai/gpt-6.2-sol", "openai/gpt-5.4-mini", "anthropic/claude-sonnet-5-5",
           "anthropic/claude-opus-4-7"]


@pytest.fixture(autouse=True)
def _official_apis(monkeypatch):
    """Facts and warnings for the providers' own APIs, not a test server."""
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    model_facts._WARNED.clear()


def genai_cost(provider: str, model: str, usage: LmUsage) -> float:
    """What genai-prices itself says `usage` costs (its cache reads counted apart)."""
    from genai_prices import Usage, calc_price

    cached = usage.cached_prompt_tokens or 0
    price = calc_price(Usage(input_tokens=usage.prompt_tokens, cache_read_tokens=cached,
                             output_tokens=usage.completion_tokens),
                       model_ref=model, provider_id=provider)
    return float(price.total_price)


@pytest.mark.parametrize("spec", CURRENT)
def test_this_years_models_construct_and_are_priced(spec):
    lm = lmwrapper.get_lm(spec)
    assert lm.model_name() == spec.split("/", 1)[1]
    est = lm.estimate_cost([lmwrapper.LmPrompt("Hello there", max_tokens=10)])
    assert est.priced and est.total_usd > 0


@pytest.mark.parametrize("spec", CURRENT)
@pytest.mark.parametrize("prompt_tokens", [1_000, 300_000])  # below and above long-context tiers
def test_our_rates_give_genai_prices_own_cost(spec, prompt_tokens):
    provider, model = spec.split("/", 1)
    lm = lmwrapper.get_lm(spec)
    usage = LmUsage(prompt_tokens, 2_000, cached_prompt_tokens=400)
    if prompt_tokens > lm.model.context_window:
        pytest.skip("longer than the model's context")
    assert lm.price.cost(usage) == pytest.approx(genai_cost(provider, model, usage), rel=1e-9)


def test_a_long_prompt_costs_the_long_context_rate_in_the_bound_too():
    lm = lmwrapper.get_lm("openai/gpt-6.2-sol")
    short, long = lm.model.input_usd_per_mtok, lm.model.long_input_usd_per_mtok
    assert long > short and lm.model.long_context_from == 272_000
    prompt = lmwrapper.LmPrompt("word " * 300_000, max_tokens=1)
    est = lm.estimate_cost([prompt])
    assert est.total_usd == pytest.approx(est.input_tokens * long / 1e6
                                          + lm.model.long_output_usd_per_mtok / 1e6, rel=1e-6)


def test_claude_cache_writes_cost_the_write_rate():
    from lmwrapper.claude_wrapper import ClaudeModelInfo

    m = ClaudeModelInfo.infer("claude-sonnet-5-5")
    price = ClaudePrice.of(m)
    usage = LmUsage(1_000, 0, 0, cache_write_prompt_tokens=1_000)
    assert price.cost(usage) == pytest.approx(1_000 * m.cache_write_usd_per_mtok / 1e6)
    assert isinstance(price, Price)


def test_gpt_5_warns_with_its_shutdown_date_from_the_sdk():
    with pytest.warns(ModelRetiringWarning, match="2026-12-11"):
        lmwrapper.get_lm("openai/gpt-5")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lmwrapper.get_lm("openai/gpt-5")  # once per process and model


def test_a_retired_claude_model_says_so_and_still_builds():
    with pytest.warns(ModelRetiringWarning, match="shut down .* 2026-06-15"):
        lm = lmwrapper.get_lm("anthropic/claude-sonnet-4-20250514")
    assert lm.model_name() == "claude-sonnet-4-20250514"  # a 0.18 script sends what it named


def test_the_warning_text_for_past_and_future_dates():
    today = dt.date(2026, 12, 7)
    with pytest.warns(ModelRetiringWarning, match=r"shuts down on 2026-12-11 \(4 days"):
        model_facts.warn_if_retiring("openai", "x-test-1", dt.date(2026, 12, 11), today)
    with pytest.warns(ModelRetiringWarning, match="was shut down .* on 2026-06-15"):
        model_facts.warn_if_retiring("openai", "x-test-2", dt.date(2026, 6, 15), today)


def test_lmwrapper_today_pins_the_day_shutdowns_are_read_against(monkeypatch):
    """The suite pins `$LMWRAPPER_TODAY` (tests/conftest.py): the warning of a model that
    retires next month, and the fake's 404 for it, are the same whatever the real date. The
    days here are either side of gpt-4o-mini's shutdown in the openai SDK's table."""
    from lmwrapper.testing import FakeServer

    shutdown = model_facts.sdk_shutdowns(openai_models.SOURCES).get("gpt-4o-mini")
    if shutdown is None:
        pytest.skip("the installed openai SDK announces no shutdown of gpt-4o-mini")
    monkeypatch.delenv("LMWRAPPER_FAKE_TODAY", raising=False)  # the fake follows the client
    after, before = shutdown + dt.timedelta(days=46), shutdown - dt.timedelta(days=38)
    monkeypatch.setenv("LMWRAPPER_TODAY", after.isoformat())
    assert model_facts.today() == after
    with pytest.warns(ModelRetiringWarning, match=f"was shut down by its provider on {shutdown}"):
        lmwrapper.get_lm("openai/gpt-4o-mini")
    with FakeServer() as srv:
        assert srv.model_missing("openai", "gpt-4o-mini")
    monkeypatch.setenv("LMWRAPPER_TODAY", before.isoformat())
    model_facts._WARNED.clear()
    with pytest.warns(ModelRetiringWarning, match=rf"shuts down on {shutdown} \(38 days"):
        lmwrapper.get_lm("openai/gpt-4o-mini")
    with FakeServer() as srv:
        assert not srv.model_missing("openai", "gpt-4o-mini")
    monkeypatch.delenv("LMWRAPPER_TODAY")
    assert model_facts.today() == dt.date.today()  # unset: the real date


def test_defaults_name_current_models():
    from lmwrapper.claude_wrapper import get_claude_lm
    from lmwrapper.openai_wrapper import get_open_ai_lm

    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelRetiringWarning)
        claude, openai = get_claude_lm(), get_open_ai_lm()
    assert str(claude.model) in model_facts.sdk_model_names(claude_models.SOURCES)
    assert str(openai.model) in model_facts.sdk_model_names(openai_models.SOURCES)
    assert claude.model.retires is None and openai.model.retires is None


@pytest.mark.parametrize("spec,close", [("openai/gpt-4o-mni", "gpt-4o-mini"),
                                        ("anthropic/claude-sonet-5-5", "claude-sonnet-5-5")])
def test_a_typo_is_refused_with_did_you_mean(spec, close):
    with pytest.raises(UnknownModelError, match=close):
        lmwrapper.get_lm(spec)


def test_a_typo_is_never_told_to_use_a_model_past_its_shutdown(monkeypatch):
    import re

    # the SDK's announced dates (openai's ChatModel docstring): the refusal's "did you mean"
    # offers a name until its shutdown, as the 404's hint does
    ahead = {n: d for n, d in model_facts.sdk_shutdowns(openai_models.SOURCES).items()
             if d > model_facts.today()}
    if not ahead:
        pytest.skip("the installed openai SDK announces no shutdown after the suite's day")
    name, shutdown = max(ahead.items(), key=lambda kv: kv[1])
    typo = f"openai/{name[:-1]}"
    with pytest.raises(UnknownModelError, match=re.escape(name)):
        lmwrapper.get_lm(typo)
    monkeypatch.setenv("LMWRAPPER_TODAY", shutdown.isoformat())
    try:
        said = repr(lmwrapper.get_lm(typo).model)  # no current name is close: sent as named
    except UnknownModelError as e:
        said = str(e)
    assert not re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", said)


@pytest.mark.parametrize("spec", ["openai/gpt-9-nova", "anthropic/claude-quill-9"])
def test_a_name_no_source_knows_is_sent_unpriced(spec):
    lm = lmwrapper.get_lm(spec)
    assert not lm.estimate_cost([lmwrapper.LmPrompt("hi", max_tokens=5)]).priced


def test_the_sdk_tables_are_read_without_importing_the_sdks():
    import subprocess
    import sys

    code = ("from lmwrapper.core import models as f; import sys; "
            "from lmwrapper.providers.openai.models import SOURCES as o; "
            "from lmwrapper.providers.anthropic.models import SOURCES as a; "
            "assert f.sdk_shutdowns(o) and f.sdk_model_names(a); "
            "print('openai' in sys.modules, 'anthropic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("package", ["providers/openai", "providers/anthropic"])
def test_every_row_of_our_own_facts_has_a_source_and_a_date_and_no_price(package):
    path = Path(lmwrapper.__file__).parent / package / "models.toml"
    data = tomllib.loads(path.read_text())
    rows = {"defaults": data["defaults"], **data["families"]}
    for name, row in rows.items():
        assert row.get("source") and dt.date.fromisoformat(row["checked"]), name
        assert not any("usd" in key for key in row), f"{name}: prices come from genai-prices"
