"""The cache key: every output-affecting field counts, nothing else does, and keys never
shift silently (golden keys below; a change to them is a change to every user's cache)."""

import dataclasses

import pytest

from lmwrapper.store.keys import canonical_json, identity_json, key_of, prompt_key
from lmwrapper.structs import LmChatTurn, LmPrompt, ModelInternalsRequest

MODEL = identity_json({"provider": "openai", "model": "gpt-4o-mini"})
BASE = LmPrompt("hello", max_tokens=10)


def key(p: LmPrompt, model: str = MODEL) -> str:
    """The key the engine computes (`canonical_json`, which spells most prompts directly),
    checked against the key of the whole `canonical()` dict."""
    engine = key_of(canonical_json(p), model)
    assert engine == prompt_key(p.canonical(), model), p
    return engine


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
        {"context_split": 2},
        {"token_slice": (0, 2)},
        {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}},
        {"reasoning_effort": "low"},
        {"reasoning_effort": "none"},
        {"verbosity": "low"},
        {"thinking": "adaptive"},
        {"thinking": "disabled"},
        {"thinking": 1024},
    ],
)
def test_changing_any_output_field_changes_the_key(change):
    assert key(dataclasses.replace(BASE, **change)) != key(BASE)


def test_every_prompt_field_is_either_keyed_or_deliberately_not():
    keyed = set(BASE.canonical(include_defaults=True)) - {"kind", "internals"}
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
    import lmwrapper.store.keys as sc

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
        seed=None, response_format=None, metadata=None, reasoning_effort=None,
        verbosity=None, thinking=None,
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


# Fixed prompts -> fixed keys. If one of these changes, every cached row of that shape is
# lost to its users: bump KEY_SCHEMA_VERSION on purpose and update these, never silently.
GOLDEN = {
    "completion": (LmPrompt("hello", max_tokens=10),
                   "2ab373a778c803f7cc83b20a05257f5e0ead14aa64871e8299846a1325b608e3"),
    "completion_all_defaults": (LmPrompt("hello"),
                                "ae62962cdce090623093c9dcba7b2942e47f7305a3917e3dea7f6cba30077b40"),
    "chat": (LmPrompt(["hi", "hello", "how are you?"], max_tokens=20),
             "c306914ccc6bed12dedd99195a153654745cc70b2294c58960eecce9cde0a71b"),
    "chat_system_named": (
        LmPrompt([LmChatTurn("system", "be brief"), LmChatTurn("user", "hi", name="ann")],
                 max_tokens=5),
        "10a132d8b017487902d211bd180cdb6b56753633eb95e6e9ed73d06277151e38"),
    "samples": (LmPrompt("tell a joke", max_tokens=30, temperature=0.7, num_completions=3, seed=7),
                "558fd34b20e92442be29c4b8ee6650aab26fd5e318290d41418abb833c7ed467"),
    "greedy_stop_logprobs": (
        LmPrompt("a b c", max_tokens=5, temperature=0, stop=["\n", "."], logprobs=5),
        "5dd124066374a4138e847fd75a85c1a73c0990f11a865d66d691a7d720586fc6"),
    "response_format": (
        LmPrompt(["give json"], max_tokens=50, response_format={
            "type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}),
        "15bedb6dd1ba3fe3acaa126d419e73ae8cffd713c9e836853729f1891b850053"),
    "json_object": (LmPrompt(["give json"], max_tokens=50, response_format="json_object"),
                    "4678a0f467ddbd3c884a0eb2d0b7d3e6ea652f06a67ac9e856a5b221f0fdc1bb"),
    "internals": (
        LmPrompt("The capital of France is", max_tokens=1, echo=True,
                 model_internals_request=ModelInternalsRequest(return_hidden_states=True,
                                                               hidden_layer_indexes=(0, -1))),
        "dd2cf4f8211116bb81d03cc2ef475f6b47c998768fdf7d45f612d63152c68db5"),
    # reasoning controls (added in 1.1): absent at their default, so the keys above hold
    "reasoning_effort": (LmPrompt(["Is 91 prime?"], max_tokens=2000, reasoning_effort="high"),
                         "46ccfa8921d9eea4f5216347926af365fea3e875c622bf09501a0d6e89d7f854"),
    "effort_none_sampling_verbosity": (
        LmPrompt(["Is 91 prime?"], max_tokens=2000, reasoning_effort="none", temperature=0,
                 verbosity="low"),
        "9b979d268e7edf770a3e3dcfca8a73bd314d045e8221730e66c72563ae6b1b6e"),
    "thinking_adaptive_effort": (
        LmPrompt(["Is 91 prime?"], max_tokens=8000, thinking="adaptive", reasoning_effort="max"),
        "8f4f36018f6c06c76986c6fef696363f0002df0b14414164f68c5d5bc79c3291"),
    "thinking_budget": (LmPrompt(["Is 91 prime?"], max_tokens=8000, thinking=2048),
                        "af3a5f8bb15ca199cb965747ed2781906b990d82b0d39284f4bffc275e4eb598"),
}


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_keys(name):
    prompt, expected = GOLDEN[name]
    assert key(prompt) == expected


def test_golden_canonical_form():
    """What the key hashes, spelled out: named entries, defaults left out, sorted."""
    from lmwrapper.store.keys import _CANONICAL, KEY_SCHEMA_VERSION

    assert KEY_SCHEMA_VERSION == 2
    assert _CANONICAL.encode(GOLDEN["samples"][0].canonical()) == (
        '{"kind":"text","max_tokens":30,"seed":7,"temperature":0.7,"text":"tell a joke"}')
    assert _CANONICAL.encode(GOLDEN["thinking_adaptive_effort"][0].canonical()) == (
        '{"kind":"chat","max_tokens":8000,"reasoning_effort":"max",'
        '"text":[{"content":"Is 91 prime?","role":"user"}],"thinking":"adaptive"}')
    assert GOLDEN["internals"][0].canonical()["internals"] == {
        "return_hidden_states": True, "hidden_layer_indexes": (0, -1)}


def test_fields_at_their_default_are_left_out_so_a_new_field_keeps_old_keys():
    """A field added later with a default is absent from every existing prompt's canonical
    form, exactly as each of today's fields is when at its default."""
    assert LmPrompt("x").canonical() == {"kind": "text", "text": "x"}
    full = LmPrompt("x").canonical(include_defaults=True)
    assert set(full) - {"kind", "text"}  # the defaults exist; they are just not hashed
    assert key(LmPrompt("x")) == prompt_key({"kind": "text", "text": "x"}, MODEL)
    assert ModelInternalsRequest().canonical() == {}


def test_the_order_of_entries_does_not_matter():
    c = GOLDEN["samples"][0].canonical()
    assert prompt_key(dict(reversed(list(c.items()))), MODEL) == key(GOLDEN["samples"][0])


# `canonical_json` spells a plain text prompt directly (`keys._text_json`) rather than
# encoding `canonical()`: the two must agree on every field's values, byte for byte.
_VALUES = {
    "max_tokens": [None, 1, 10, 2**40], "stop": [None, [], ["\n"], ['a"b', "é\u2028\\"]],
    "logprobs": [None, 0, 1, 5], "temperature": [0, 0.0, -0.0, 1, 1.0, 0.7, 2.0, 1e-7],
    "top_p": [1.0, 0.9, 1, 1e-3], "presence_penalty": [0.0, -0.0, 0.1, -2],
    "frequency_penalty": [0.0, 1.5, -1e-9], "echo": [False, True],
    "add_bos_token": [None, True, False], "add_special_tokens": [True, False],
    "seed": [None, 0, 7, -3, 2**70], "num_completions": [None, 2], "cache": [None, False],
    "metadata": [None, {"id": 1}],
}


def _both(p: LmPrompt) -> tuple[str, str]:
    from lmwrapper.store.keys import _CANONICAL, canonical_json

    return canonical_json(p), _CANONICAL.encode(p.canonical())


@pytest.mark.parametrize("text", ["hello", "", 'é\n"\\\t\x00 😀 \u2028', "x" * 5000])
def test_the_direct_spelling_equals_the_encoded_dict_for_each_value(text):
    for name, values in _VALUES.items():
        for value in values:
            fast, slow = _both(LmPrompt(text, **{name: value}))
            assert fast == slow, (name, value)


def test_the_direct_spelling_equals_the_encoded_dict_in_any_combination():
    import random

    rng = random.Random(21)
    for _ in range(2000):
        fast, slow = _both(LmPrompt("a b", **{k: rng.choice(v) for k, v in _VALUES.items()}))
        assert fast == slow


def test_prompts_the_direct_spelling_does_not_cover_take_the_long_way():
    from lmwrapper.store.keys import _text_json

    class Odd(float):
        pass

    for p in (LmPrompt(["chat"]), LmPrompt("x", response_format="json_object"),
              LmPrompt("x", model_internals_request=ModelInternalsRequest(return_hidden_states=True)),
              LmPrompt("x", temperature=Odd(0.5))):
        assert _text_json(p) is None
        fast, slow = _both(p)
        assert fast == slow
