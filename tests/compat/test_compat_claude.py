"""0.18's Claude names and arguments (`get_claude_lm`'s positional order, its model members),
over real HTTP against the fake Anthropic API."""

from __future__ import annotations

import warnings

from lmwrapper.claude_wrapper import ClaudeModelInfo, ClaudeModelNames, get_claude_lm
from lmwrapper.structs import LmPrompt

KEY = "sk-ant-test-COMPAT0123456789abcdef"


def test_018_members_iteration_and_name_to_info():
    ids_018 = {"claude_3_5_sonnet": "claude-3-5-sonnet-20241022",
               "claude_3_5_haiku": "claude-3-5-haiku-20241022",
               "claude_4_sonnet": "claude-sonnet-4-20250514",
               "claude_4_opus": "claude-opus-4-20250514",
               "claude_4_5_sonnet": "claude-sonnet-4-5-20250929",
               "claude_4_5_haiku": "claude-haiku-4-5-20251001"}
    for member, model_id in ids_018.items():
        assert getattr(ClaudeModelNames, member) == model_id, member
    # a dated id has its family's facts; the family's own entry is unchanged
    assert ClaudeModelNames.claude_4_5_haiku.facts() == ClaudeModelNames.claude_haiku_4_5.facts()
    assert ClaudeModelInfo.infer("claude-haiku-4-5") == "claude-haiku-4-5"
    assert ClaudeModelNames.claude_4_sonnet in list(ClaudeModelNames)
    assert "claude-haiku-4-5" in ClaudeModelNames
    assert ClaudeModelNames.name_to_info("claude-opus-4-20250514").context_window == 200000
    assert ClaudeModelNames.name_to_info("claude-sonet-5-5") is None  # a typo


def test_get_claude_lm_takes_018_positional_arguments(srv, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.anthropic_base_url)
    # 0.18: (model_name, api_key_secret, cache_outputs_default, retry_on_transient_errors,
    #        max_retries)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lm = get_claude_lm(ClaudeModelNames.claude_4_5_haiku, KEY, False, True, 3)
    assert lm.cache_default is False and lm.retry.max_retries == 3
    assert lm.predict(LmPrompt("What is 2+6?", max_tokens=10, temperature=0)).completion_text
    assert srv.count("messages") == 1
    no_retry = get_claude_lm(ClaudeModelNames.claude_4_5_haiku, KEY, True, False)
    assert no_retry.retry.max_retries == 0 and not no_retry.retry.retry_rate_limits
    assert no_retry.cache_default is True
    # 0.18's default (claude-sonnet-4-20250514) was retired on 2026-06-15: today's Sonnet
    assert get_claude_lm(api_key_secret=KEY).model_name() == "claude-sonnet-5-5"
