"""The model registry: seed names, limits, prices, inference for unknown names."""

import pytest

from lmwrapper import UnknownModelError
from lmwrapper.openai_wrapper import OpenAiModelInfo, OpenAiModelNames


@pytest.mark.parametrize("attr", ["gpt_3_5_turbo", "gpt_3_5_turbo_instruct", "gpt_4o_mini",
                                  "gpt_4o", "gpt_4", "gpt_4_turbo", "o1", "o3_mini", "gpt_5"])
def test_seed_attribute_names_are_model_names(attr):
    info = getattr(OpenAiModelNames, attr)
    assert isinstance(info, str) and info == attr.replace("_", "-").replace("3-5", "3.5")
    assert info.context_window > 0 and info.max_output_tokens > 0 and info.priced


def test_kinds():
    assert OpenAiModelNames.gpt_3_5_turbo_instruct.kind == "instruct"
    assert OpenAiModelNames.gpt_4o_mini.kind == "chat"
    for m in (OpenAiModelNames.o1, OpenAiModelNames.o3, OpenAiModelNames.o4_mini,
              OpenAiModelNames.gpt_5):
        assert m.is_reasoning_model


@pytest.mark.parametrize("name,family", [
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-3.5-turbo-instruct-0914", "gpt-3.5-turbo-instruct"),
    ("gpt-4-0613", "gpt-4"),
    ("o3-2025-04-16", "o3"),
    ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
])
def test_snapshots_take_their_familys_facts(name, family):
    info = OpenAiModelInfo.infer(name)
    assert str(info) == name
    assert info.facts() == OpenAiModelNames.get(family).facts()


def test_a_snapshot_priced_unlike_its_family_has_its_own_price():
    assert OpenAiModelInfo.infer("gpt-4o-2024-05-13").input_usd_per_mtok == 5.00


def test_fine_tunes_take_their_familys_limits_but_not_its_price():
    info = OpenAiModelInfo.infer("ft:gpt-4o-mini-2024-07-18:my-org:custom:abc123")
    family = OpenAiModelNames.gpt_4o_mini
    assert (info.kind, info.context_window, info.encoding) == ("chat", 128000, family.encoding)
    assert not info.priced  # fine-tunes are billed at their own rates
    priced = OpenAiModelInfo.infer("ft:gpt-4o-mini:org::x", input_usd_per_mtok=0.3,
                                   output_usd_per_mtok=1.2)
    assert priced.priced and priced.input_usd_per_mtok == 0.3


@pytest.mark.parametrize("name,suggestion", [
    ("gpt-4o-mni", "gpt-4o-mini"),      # would be priced as gpt-4o: 16x off
    ("gpt-4o-minii", "gpt-4o-mini"),
    ("gpt4o", "gpt-4o"),
    ("gpt-4o-2024-08-066", "gpt-4o-2024-08-06"),  # not a snapshot of gpt-4o
    ("gpt-6.3-sol", "gpt-6.2-sol"),  # near a known name, unknown to every source
])
def test_unknown_names_are_refused_with_close_matches(name, suggestion, monkeypatch):
    from lmwrapper import ConfigurationError
    from lmwrapper.openai_wrapper import get_open_ai_lm

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UnknownModelError) as err:
        get_open_ai_lm(name)
    assert isinstance(err.value, ConfigurationError) and isinstance(err.value, ValueError)
    assert "context_window=" in str(err.value) and "base_url" in str(err.value)
    assert f"Did you mean {suggestion}" in str(err.value)
    assert "pip install -U genai-prices openai" in str(err.value)


def test_unknown_names_go_with_facts_or_on_a_compatible_server(monkeypatch):
    from lmwrapper.openai_wrapper import get_open_ai_lm

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    lm = get_open_ai_lm("gpt-4o-mni", base_url="http://localhost:8000/v1")
    assert not lm.model.priced and lm.model.kind == "chat"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:8000/v1")
    assert not get_open_ai_lm("meta-llama/Llama-3-8B-Instruct").model.priced
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert get_open_ai_lm("my-model", context_window=4096).model.context_window == 4096


def test_unknown_names_are_unpriced_chat_models_and_overridable():
    info = OpenAiModelInfo.infer("meta-llama/Llama-3-8B-Instruct", compatible_server=True)
    assert info.kind == "chat" and not info.priced
    info = OpenAiModelInfo.infer("my-local", kind="instruct", context_window=2048,
                                 input_usd_per_mtok=1.0, output_usd_per_mtok=2.0)
    assert (info.kind, info.context_window, info.priced) == ("instruct", 2048, True)
    with pytest.raises(TypeError, match="unknown model facts"):
        OpenAiModelInfo.infer("x", context=5)
    with pytest.raises(ValueError, match="kind must be"):
        OpenAiModelInfo.infer("x", kind="embedding")


def test_get_suggests_close_names():
    with pytest.raises(KeyError, match="Did you mean gpt-4o-mini"):
        OpenAiModelNames.get("gpt-4o-minni")


def test_model_info_pickles_with_its_facts():
    import copy
    import pickle

    info = OpenAiModelInfo.infer("ft:gpt-4o-mini:org::x", context_window=1000)
    for clone in (pickle.loads(pickle.dumps(info)), copy.deepcopy(info)):
        assert clone == info and clone.facts() == info.facts()
