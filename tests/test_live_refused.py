"""A live run whose every request is refused with a 400 that is not the prompt's stops after
one retry, with the provider's message (issue 17, row 15 / "Refusals end runs").

Before: each of the N prompts was sent and refused, and the run "finished" with N error
answers (nothing cached, so the next run sends all N again). Now it stops after the first
refusals were retried once; when some requests are answered, a refusal stays that prompt's.
"""

import pytest

from lmwrapper import RejectedRequestError
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import FakeServer

N, CONC = 200, 8
POLICY = "Requests from this organization are blocked by the gateway policy."


@pytest.mark.parametrize("http", ["lean", "sdk"])
def test_every_request_refused_stops_the_run_after_one_retry(tmp_path, monkeypatch, http):
    if http == "sdk":
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
    with FakeServer() as srv:
        srv.server_error(times=None, status=400, message=POLICY, code="policy_violation")
        lm = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-test-refused-0123456789",
                            base_url=srv.base_url, max_concurrency=CONC,
                            cache_dir=str(tmp_path / "c"))
        prompts = [LmPrompt(f"item-{i}", max_tokens=3, temperature=0) for i in range(N)]
        with pytest.raises(RejectedRequestError, match="gateway policy") as e:
            list(lm.predict_many(prompts))
        assert "retry" in str(e.value)
        sent = srv.count("chat.completions")
    print(f"sent {sent} of {N} prompts before stopping")
    assert sent <= 2 * CONC + CONC  # each in flight at most twice; before: all N


def test_a_refusal_after_answers_is_that_prompts_own(tmp_path):
    with FakeServer() as srv:
        lm = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-test-refused-0123456789",
                            base_url=srv.base_url, max_concurrency=1, cache_dir=str(tmp_path / "c"))
        assert not lm.predict("What is 2+2?").has_errors
        srv.server_error(times=1, status=400, message=POLICY, match="item-1")
        got = list(lm.predict_many([LmPrompt(f"item-{i}", max_tokens=3) for i in range(3)]))
        assert [p.has_errors for p in got] == [False, True, False]
