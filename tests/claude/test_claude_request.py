"""Each LmPrompt field reaches the Messages API as the API spells it (seen by the fake
server, through the official SDK), or is refused before anything is sent."""

from __future__ import annotations

import pytest

from lmwrapper.claude_wrapper import DEFAULT_MAX_TOKENS, ClaudeModelInfo, ClaudeModelNames
from lmwrapper.structs import LmChatTurn, LmPrompt
from tests.claude.conftest import sent_bodies


def test_system_turns_become_system_and_stop_becomes_stop_sequences(srv, make_lm):
    lm = make_lm()
    pred = lm.predict(LmPrompt([LmChatTurn("system", "Answer like a pirate"), "Hi"],
                               max_tokens=20, stop=["\n\n", "END"], temperature=0))
    assert not pred.has_errors
    sent = [r for r in srv.requests if r.route == "messages"][-1]
    body = sent.body
    assert body["system"] == "Answer like a pirate"
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert body["stop_sequences"] == ["END"]  # whitespace-only: applied here (the API refuses it)
    assert body["temperature"] == 0.0 and body["max_tokens"] == 20
    assert sent.headers["anthropic-version"] == "2023-06-01"  # the version with temperature


def test_default_sampling_sends_no_sampling_fields_on_the_current_api_version(srv, make_lm):
    make_lm().predict(LmPrompt("Hi", max_tokens=5))
    sent = [r for r in srv.requests if r.route == "messages"][-1]
    assert not {"temperature", "top_p", "top_k"} & set(sent.body)
    assert sent.headers["anthropic-version"] == "2026-10-21"


def test_whitespace_only_stop_is_applied_to_the_answer(srv, make_lm):
    srv.add_answer("Two paragraphs", "First part.\n\nSecond part.")
    pred = make_lm().predict(LmPrompt("Two paragraphs", stop=["\n\n"], max_tokens=50))
    assert "stop_sequences" not in sent_bodies(srv)[-1]
    assert pred.completion_text == "First part." and pred.finish_reason == "stop"


def test_max_tokens_default_is_documented_and_capped_by_the_model(srv, make_lm):
    make_lm().predict(LmPrompt("Hi"))  # max_tokens=None (a bare str means max_tokens=100)
    assert sent_bodies(srv)[-1]["max_tokens"] == min(DEFAULT_MAX_TOKENS, 8192)
    make_lm("claude-3-haiku-20240307").predict(LmPrompt("Hi"))
    assert sent_bodies(srv)[-1]["max_tokens"] == 4096


def test_stop_sequence_cuts_the_answer_and_maps_finish_reason(srv, make_lm):
    srv.add_answer("Count", "one two STOP three")
    pred = make_lm().predict(LmPrompt("Count", stop=["STOP"], max_tokens=50, temperature=0))
    assert pred.completion_text.rstrip() == "one two"
    assert pred.finish_reason == "stop"
    short = make_lm().predict(LmPrompt("Count", max_tokens=1, temperature=0))
    assert short.finish_reason == "length"


def test_top_p_alone_is_sent_without_temperature(srv, make_lm):
    make_lm("claude-sonnet-4-6").predict(LmPrompt("Hi", top_p=0.5, max_tokens=5))
    body = sent_bodies(srv)[-1]
    assert body["top_p"] == 0.5 and "temperature" not in body


def test_final_assistant_turn_is_a_prefill(srv, make_lm):
    make_lm().predict(LmPrompt(["Name a colour", "The colour is"], max_tokens=5))
    assert sent_bodies(srv)[-1]["messages"][-1] == {"role": "assistant",
                                                     "content": "The colour is"}


@pytest.mark.parametrize("rf", [
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    {"type": "json_schema", "json_schema": {"name": "r", "schema": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
])
def test_response_format_maps_to_output_config(srv, make_lm, rf):
    import json

    pred = make_lm().predict(LmPrompt("Capital of France?", response_format=rf, max_tokens=50))
    fmt = sent_bodies(srv)[-1]["output_config"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"]["required"] == ["city"]
    assert set(json.loads(pred.completion_text)) == {"city"}


@pytest.mark.parametrize("kw, field", [
    ({"temperature": 1.5}, "temperature"),
    ({"logprobs": 5}, "logprobs"),
    ({"echo": True}, "echo"),
    ({"presence_penalty": 0.5}, "presence_penalty"),
    ({"frequency_penalty": 0.5}, "frequency_penalty"),
    ({"seed": 3}, "seed"),
    ({"context_split": 1}, "context_split"),
    ({"token_slice": (0, 2)}, "token_slice"),
    ({"response_format": "json_object"}, "response_format"),
    ({"max_tokens": 9000}, "max_tokens"),
    ({"text": ["Hi", LmChatTurn("system", "late")]}, "text"),
    ({"text": [LmChatTurn("user", "Hi", name="bob")]}, "text"),
    ({"text": ["Hi", "Prefill with space "]}, "text"),
])
def test_what_claude_cannot_honour_is_refused_before_sending(srv, make_lm, kw, field):
    prompt = LmPrompt(**{"text": "Hi", **kw})
    with pytest.raises(ValueError, match=rf"LmPrompt\.{field} cannot be honoured"):
        make_lm().predict(prompt)
    assert srv.count("messages") == 0


def test_both_sampling_knobs_are_refused_only_where_the_model_refuses_them(srv, make_lm):
    both = LmPrompt("Hi", temperature=0.5, top_p=0.5, max_tokens=5)
    with pytest.raises(ValueError, match="temperature or top_p"):
        make_lm("claude-sonnet-4-6").predict(both)
    assert not make_lm().predict(both).has_errors  # 3.5 Haiku takes both
    assert sent_bodies(srv)[-1]["top_p"] == 0.5


def test_default_logprobs_is_accepted_and_gives_no_logprobs(srv, make_lm):
    pred = make_lm().predict(LmPrompt("Hi", max_tokens=5))  # logprobs=1 by default
    assert pred.completion_logprobs is None and not pred.has_errors


def test_dated_snapshots_and_aliases_take_their_familys_facts():
    for name in ("claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"):
        assert ClaudeModelInfo.infer(name).facts() == ClaudeModelNames.claude_3_5_haiku.facts()
    opus = ClaudeModelInfo.infer("claude-opus-4-1-20250805")
    assert opus.facts() == ClaudeModelNames.claude_opus_4_1.facts()
    assert ClaudeModelInfo.infer("anthropic/claude-haiku-4-5") == "claude-haiku-4-5"


def test_unknown_model_names_get_did_you_mean():
    # near a known name and unknown to every source: a typo, refused before anything is sent
    with pytest.raises(ValueError, match="Did you mean 'claude-sonnet-5-5'"):
        ClaudeModelInfo.infer("claude-sonet-5-5")
    # far from every known name: sent as named (the API's 404 is the check), unpriced
    assert ClaudeModelInfo.infer("claude-zeta-9").input_usd_per_mtok is None
    made_up = ClaudeModelInfo.infer("claude-next", context_window=1000, max_output_tokens=10)
    assert made_up.context_window == 1000 and made_up.input_usd_per_mtok is None


def test_prices_cover_live_batch_cache_write_and_cache_read():
    m = ClaudeModelNames.claude_sonnet_4_5
    assert (m.input_usd_per_mtok, m.output_usd_per_mtok) == (3.0, 15.0)
    assert (m.cache_write_usd_per_mtok, m.cache_read_usd_per_mtok) == (3.75, 0.3)
    assert m.batch_discount == 0.5
