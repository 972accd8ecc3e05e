"""The OpenAI backend over real HTTP against the loopback fake: answers, samples, order, cache."""

import threading
import time

import pytest

from lmwrapper.openai_wrapper import OpenAiModelNames
from lmwrapper.structs import LmChatTurn, LmPrompt


def bodies(srv, route="chat.completions"):
    return [r.body for r in srv.requests if r.route == route]


def test_seed_chat_examples(make_lm, srv):
    lm = make_lm(OpenAiModelNames.gpt_4o_mini)
    assert lm.predict("What is 2+2?").completion_text == "4"
    assert lm.predict(LmPrompt("What is 2+6?", max_tokens=10, temperature=0)).completion_text == "8"
    pred = lm.predict(LmPrompt(["What is 2+2?", "4", "What is 4+4?"], max_tokens=10))
    assert pred.completion_text == "8"
    pred = lm.predict(LmPrompt([LmChatTurn("system", "You always answer like a pirate"),
                                LmChatTurn("user", "How does bitcoin work?")],
                               max_tokens=25, temperature=0))
    assert pred.completion_text and not pred.has_errors
    sent = bodies(srv)
    assert [m["role"] for m in sent[2]["messages"]] == ["user", "assistant", "user"]
    assert sent[3]["messages"][0] == {"role": "system", "content": "You always answer like a pirate"}
    assert sent[1]["max_tokens"] == 10 and sent[1]["temperature"] == 0.0


def test_logprobs_have_the_hf_shape(make_lm):
    pred = make_lm().predict(LmPrompt("What is the capital of France?", logprobs=3, max_tokens=5))
    n = len(pred.completion_tokens)
    assert n >= 1 and "".join(pred.completion_tokens) == pred.completion_text
    assert isinstance(pred.completion_tokens, tuple) and len(pred.completion_logprobs) == n
    assert len(pred.top_token_logprobs) == n and all(isinstance(d, dict) for d in pred.top_token_logprobs)
    assert all(len(d) == 3 for d in pred.top_token_logprobs)
    assert pred.top_token_logprobs[0][pred.completion_tokens[0]] == pred.completion_logprobs[0]


def test_instruct_model_echo_and_prompt_logprobs(make_lm, srv):
    lm = make_lm(OpenAiModelNames.gpt_3_5_turbo_instruct)
    pred = lm.predict(LmPrompt("Once upon a", max_tokens=4, echo=True, logprobs=2, temperature=0))
    assert srv.counts == {"completions": 1}
    assert pred.prompt_tokens == ("Once", " upon", " a") and pred.prompt_logprobs[0] is None
    assert "".join(pred.completion_tokens) == pred.completion_text
    assert not pred.completion_text.startswith("Once upon a")
    assert len(pred.completion_tokens) == 4 and pred.finish_reason == "length"


def test_reasoning_model_sends_its_own_parameters(make_lm, srv):
    pred = make_lm(OpenAiModelNames.o3).predict(LmPrompt("What is 2+2?", max_tokens=50))
    assert not pred.has_errors, pred.error_message  # the fake refuses max_tokens for o3
    (body,) = bodies(srv)
    assert body["max_completion_tokens"] == 50 and "temperature" not in body
    assert pred.completion_logprobs is None  # reasoning models return none
    with pytest.raises(ValueError, match="temperature"):
        list(make_lm(OpenAiModelNames.o3).predict_many([LmPrompt("x", temperature=0)]))
    assert len(srv.requests) == 1  # refused before anything was sent


def test_samples_are_cached_as_rows_and_only_missing_ones_are_requested(make_lm, srv):
    calls = iter(range(100))
    srv.set_answer(lambda q: f"story {next(calls)}")
    lm = make_lm()
    three = lm.predict(LmPrompt("Tell me a story", num_completions=3, max_tokens=5))
    assert len(three) == 3 and len({p.completion_text for p in three}) == 3
    five = lm.predict(LmPrompt("Tell me a story", num_completions=5, max_tokens=5))
    assert [p.completion_text for p in five[:3]] == [p.completion_text for p in three]
    assert [b.get("n", 1) for b in bodies(srv)] == [3, 2]
    assert all(p.was_cached for p in five[:3]) and not any(p.was_cached for p in five[3:])
    lm.predict(LmPrompt("Tell me a story", num_completions=5, max_tokens=5))
    assert len(srv.requests) == 2


def test_more_samples_than_n_allows_are_split_over_requests(make_lm, srv):
    """OpenAI caps `n` at 128 (the fake refuses more, as the API does): 300 samples are three
    requests, every sample answered once and in order."""
    calls = iter(range(1000))
    srv.set_answer(lambda q: f"story {next(calls)}")
    preds = make_lm().predict(LmPrompt("Tell me a story", num_completions=300, max_tokens=5))
    assert len(preds) == 300 and not any(p.has_errors for p in preds)
    assert sorted(b.get("n", 1) for b in bodies(srv)) == [44, 128, 128]
    assert [p.sample_index for p in preds] == list(range(300))
    assert len({p.completion_text for p in preds}) == 300


def test_many_prompts_come_back_in_order_and_are_cached(make_lm, srv):
    prompts = [LmPrompt(f"What is {i}+1?", max_tokens=5, temperature=0) for i in range(40)]
    preds = list(make_lm(max_concurrency=8).predict_many(prompts))
    assert [p.completion_text for p in preds] == [str(i + 1) for i in range(40)]
    again = list(make_lm().predict_many(prompts))
    assert all(p.was_cached for p in again) and srv.counts["chat.completions"] == 40


def test_requests_in_flight_never_exceed_max_concurrency(make_lm, srv):
    # The first 4 answers meet at a 4-party barrier: it only opens if 4 are in flight at
    # once (no exact peak is asserted, so a loaded machine cannot make this flaky).
    lock, now, peak, arrived = threading.Lock(), [0], [0], [0]
    barrier = threading.Barrier(4, timeout=60)

    def slow_answer(q):
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
            arrived[0] += 1
            first = arrived[0] <= 4
        if first:
            barrier.wait()
        time.sleep(0.01)  # (load only: nothing waits for it)
        with lock:
            now[0] -= 1

    srv.set_answer(slow_answer)
    preds = list(make_lm(max_concurrency=4).predict_many([f"question {i}" for i in range(24)]))
    assert not any(p.has_errors for p in preds)
    assert peak[0] <= 4 and not barrier.broken


def test_limits_are_learned_from_response_headers(make_lm):
    lm = make_lm()
    lm.predict("hello")
    assert lm.limiter.requests.limit == 1_000_000 and lm.limiter.tokens.limit == 1_000_000_000


def test_base_url_is_part_of_the_cache_identity(make_lm, monkeypatch):
    from lmwrapper.openai_wrapper import get_open_ai_lm

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    default = get_open_ai_lm("gpt-4o-mini").model_identity()
    assert "base_url" not in default
    here = make_lm().model_identity()
    assert here["base_url"].startswith("http://127.0.0.1:") and here["model"] == "gpt-4o-mini"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://example.invalid/v1/")
    assert get_open_ai_lm("gpt-4o-mini").model_identity()["base_url"] == "http://example.invalid/v1"


def test_any_name_works_on_a_compatible_server(make_lm, srv):
    srv.extra_models.add("my-org/some-local-model")  # a compatible server serves its own names
    srv.add_answer("hello", "hi from a local model")
    pred = make_lm("my-org/some-local-model").predict("hello")
    assert pred.completion_text == "hi from a local model" and pred.cost_usd is None


def test_closing_the_generator_stops_sending_and_keeps_what_arrived(make_lm, srv):
    from cache_file import cache_stats

    srv.latency = 0.05
    lm = make_lm(max_concurrency=2)
    gen = lm.predict_many([f"prompt number {i}" for i in range(200)])
    first = [next(gen) for _ in range(3)]
    gen.close()  # what Ctrl-C inside the loop does: returns once what was sent is stored
    sent = srv.counts["chat.completions"]
    assert all(not p.has_errors for p in first) and 3 <= sent < 20
    assert cache_stats()["rows"] == sum(1 for r in srv.requests if r.status == 200)


@pytest.mark.parametrize("model,extra", [
    ("gpt-4o-mini", {"response_format": {"type": "object", "properties": {
        "answer": {"type": "string"}}, "required": ["answer"]}, "logprobs": 5}),
    ("gpt-3.5-turbo-instruct", {"echo": True, "logprobs": 5}),
])
def test_every_mapped_field_reaches_the_server(make_lm, srv, model, extra):
    import json

    from lmwrapper.providers.openai.request import build_request

    prompt = LmPrompt("What is the capital of Italy?", max_tokens=20, stop=["\n\n"],
                      temperature=0.7, top_p=0.9, presence_penalty=0.1, frequency_penalty=0.2,
                      seed=7, num_completions=2, **extra)
    lm = make_lm(model)
    preds = lm.predict(prompt)
    (rec,) = srv.requests
    assert rec.body == build_request(prompt, lm.model, n=2).body and rec.status == 200
    assert len(preds) == 2 and not any(p.has_errors for p in preds)
    if "response_format" in extra:
        assert "answer" in json.loads(preds[0].completion_text)


def test_objects_on_one_account_and_model_share_their_rate_limits(make_lm):
    a, b, other = make_lm(), make_lm(), make_lm("gpt-4o")
    another_account = make_lm(api_key_secret="sk-another-account-key")
    for i, lm in enumerate((a, b, other, another_account)):
        lm.predict(f"hello {i}")  # distinct prompts: each object must send
    assert a.limiter is b.limiter
    assert a.limiter is not other.limiter and a.limiter is not another_account.limiter
