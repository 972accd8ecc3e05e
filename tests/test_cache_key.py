"""The cache key: every output-affecting field counts, nothing else does."""

import dataclasses

import pytest

from lmwrapper.sqlcache import identity_json, prompt_key
from lmwrapper.structs import LmChatTurn, LmPrompt, ModelInternalsRequest

MODEL = identity_json({"provider": "openai", "model": "gpt-4o-mini"})
BASE = LmPrompt("hello", max_tokens=10)


def key(p: LmPrompt, model: str = MODEL) -> str:
    return prompt_key(p.canonical(), model)


@pytest.mark.parametrize(
    "change",
    [
        {"text": "hello!"},
        {"text": ["hello"]},
        {"max_tokens": 11},
        {"max_tokens": None},
        {"stop": ["\n"]},
        {"logprobs": 5},
        {"temperature": 0.5},
        {"top_p": 0.9},
        {"presence_penalty": 0.1},
        {"frequency_penalty": 0.1},
        {"echo": True},
        {"add_bos_token": False},
        {"add_special_tokens": False},
        {"model_internals_request": ModelInternalsRequest(return_hidden_states=True)},
        {"seed": 1},
        {"response_format": "json_object"},
        {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}},
    ],
)
def test_changing_any_output_field_changes_the_key(change):
    assert key(dataclasses.replace(BASE, **change)) != key(BASE)


def test_every_prompt_field_is_either_keyed_or_deliberately_not():
    keyed = set(BASE.canonical()) - {"kind", "internals"}
    keyed |= {"text", "model_internals_request"}
    not_keyed = {"metadata", "cache", "num_completions"}  # num_completions: sample rows
    assert {f.name for f in dataclasses.fields(LmPrompt)} == keyed | not_keyed


def test_metadata_cache_and_num_completions_do_not_change_the_key():
    for change in ({"metadata": {"id": 3}}, {"cache": False}, {"num_completions": 4}):
        assert key(dataclasses.replace(BASE, **change)) == key(BASE)


def test_model_identity_and_schema_version_change_the_key(monkeypatch):
    other = identity_json({"provider": "openai", "model": "gpt-4o"})
    compat = identity_json({"provider": "openai", "model": "gpt-4o-mini",
                            "base_url": "http://localhost:8000/v1"})
    assert len({key(BASE), key(BASE, other), key(BASE, compat)}) == 3
    import lmwrapper.sqlcache as sc

    before = key(BASE)
    monkeypatch.setattr(sc, "KEY_SCHEMA_VERSION", sc.KEY_SCHEMA_VERSION + 1)
    assert key(BASE) != before


def test_chat_does_not_collide_with_its_string_form():
    chat = LmPrompt(["hi"], max_tokens=10)
    string = LmPrompt("user: hi\nassistant:", max_tokens=10)
    assert chat.get_text_as_string_default_form() == string.text
    assert key(chat) != key(string)


def test_spelling_out_defaults_keeps_the_key():
    explicit = LmPrompt(
        "hello", max_tokens=10, stop=None, logprobs=1, temperature=1.0, top_p=1.0,
        presence_penalty=0.0, frequency_penalty=0.0, num_completions=None, cache=None,
        echo=False, add_bos_token=None, add_special_tokens=True, model_internals_request=None,
        seed=None, response_format=None, metadata=None,
    )
    assert key(explicit) == key(BASE)
    assert key(LmPrompt("hello", max_tokens=10, stop=[])) == key(BASE)
    assert key(LmPrompt("hello", max_tokens=10, temperature=1)) == key(BASE)
    assert key(LmPrompt("hello", max_tokens=10, response_format="text")) == key(BASE)
    assert key(LmPrompt("hello", max_tokens=10, logprobs=0)) == key(
        LmPrompt("hello", max_tokens=10, logprobs=None))


def test_equivalent_chat_spellings_share_a_key():
    a = LmPrompt(["q", "a", "q2"], max_tokens=5)
    b = LmPrompt([LmChatTurn("user", "q"), LmChatTurn("assistant", "a"), ("user", "q2")],
                 max_tokens=5)
    assert key(a) == key(b)
    named = LmPrompt([LmChatTurn("user", "q", name="ann"), "a", "q2"], max_tokens=5)
    assert key(named) != key(a)
