"""A research script written for lmwrapper 0.18, the way its README and users write them.

It runs unchanged on this version (tests/compat/test_compat_script.py runs it against the
fake OpenAI server and a tiny local model). Usage: script_018.py CACHE_DIR LOCAL_MODEL_DIR
"""

import multiprocessing
import sys
from pathlib import Path

from lmwrapper.abstract_predictor import LmPredictor, get_mock_predictor
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.caching import cache_dir, clear_cache_dir, set_cache_dir
from lmwrapper.huggingface_wrapper import *  # get_huggingface_lm, and torch too
from lmwrapper.internals import ModelInternalsRequest
from lmwrapper.openai_wrapper import *
from lmwrapper.prompt_trimming import HfTokenTrimmer
from lmwrapper.runtime import Runtime
from lmwrapper.structs import ChatGptRoles, LmChatTurn, LmPrediction, LmPrompt, StopMode
from lmwrapper.utils import flatten_dict


def capital_prompts(countries: list[str]) -> list[LmPrompt[dict]]:
    return [
        LmPrompt(
            f"What is the capital of {country}? Answer with just the city name.",
            max_tokens=10,
            temperature=0,
            top_p=None,
            stop_mode=StopMode.AUTO,
            cache=True,
            metadata={"country": country},
        )
        for country in countries
    ]


def echo_answer(prompt: LmPrompt) -> LmPrediction:
    return LmPrediction(prompt.text.upper(), prompt, {})


def answer(args: tuple[LmPredictor, str]) -> str:
    lm, question = args
    return lm.predict(LmPrompt(question, max_tokens=5, temperature=0)).completion_text


def openai_part() -> None:
    lm: OpenAIPredictor = get_open_ai_lm(
        model_name=OpenAiModelNames.gpt_4_1_nano,
        api_key_secret=None,
        organization=None,
        cache_outputs_default=False,
        retry_on_rate_limit=True,
    )
    assert lm.is_chat_model and lm.supports_token_operations
    chat_models = [m for m in OpenAiModelNames if m.is_chat_model and m.token_limit >= 128_000]
    assert OpenAiModelNames.gpt_4_1_nano in chat_models
    positional = get_open_ai_lm(OpenAiModelNames.gpt_4_1_nano, None, None, True, True)
    assert positional.predict(LmPrompt("What is 2+6?", 10, None, StopMode.AUTO, 1, 0.0)
                              ).completion_text == "8"
    pred = lm.predict("What is 2+2?")
    print(pred.completion_text)
    pred = lm.predict(LmPrompt("What is 2+6?", max_tokens=10, temperature=0))
    assert pred.completion_text == "8", pred.completion_text

    pred = lm.predict(LmPrompt(
        text=[
            LmChatTurn(role=ChatGptRoles.system, content="You always answer like a pirate"),
            LmChatTurn(role=ChatGptRoles.user, content="What is 5+5?"),
        ],
        max_tokens=25,
        temperature=0,
    ))
    follow_up = pred.make_reply_prompt("And 6+6?", max_tokens=5)
    assert lm.predict(follow_up).completion_text == "12"
    scored = lm.predict(LmPrompt("What is 2+6?", max_tokens=3, temperature=0, logprobs=1))
    assert scored.logprobs_dict[0]["repr"] == repr(scored.completion_tokens[0])
    assert get_mock_predictor(echo_answer).predict("abc").completion_text == "ABC"
    record = pred.dict_serialize()
    assert record["completion_text"] == "10" and record["prompt"]["max_tokens"] == 25
    assert flatten_dict(record)["prompt__max_tokens"] == 25  # a row for a CSV

    # Caching (0.18 README)
    prompt = LmPrompt("Briefly describe the city of Paris", cache=True, temperature=1,
                      max_tokens=25)
    first_prediction = lm.predict(prompt)
    repredict = lm.predict(prompt)
    assert first_prediction.completion_text == repredict.completion_text
    assert repredict.was_cached
    lm.remove_prompt_from_cache(prompt)
    assert not lm.predict(prompt).was_cached

    # Datasets with metadata, batch or not (0.18 README)
    predictions = lm.predict_many(capital_prompts(["France", "Germany", "Japan"]),
                                  completion_window=CompletionWindow.BATCH_ANY)
    capitals = {p.prompt.metadata["country"]: p.completion_text for p in predictions}
    assert capitals == {"France": "Paris", "Germany": "Berlin", "Japan": "Tokyo"}, capitals
    again = list(lm.predict_many(capital_prompts(["France", "Germany", "Japan", "Italy"]),
                                 completion_window=CompletionWindow.ASAP))
    assert [p.was_cached for p in again] == [True, True, True, False]
    assert all(p.prompt.stop_mode == StopMode.AUTO for p in again)

    # Token counting (0.18 README)
    lm = get_open_ai_lm(OpenAiModelNames.gpt_3_5_turbo_instruct)
    assert lm.estimate_tokens_in_prompt(LmPrompt("My name is Spingldorph", max_tokens=10)) == 7
    assert not lm.could_completion_go_over_token_limit(LmPrompt("My name is Spingldorph",
                                                                max_tokens=1000))
    assert len(lm.tokenize("My name is Spingldorph")) == 7
    assert len(lm.tokenize_ids("My name is Spingldorph")) == 7

    # Predictors go to worker processes (pickled; the key is not in the pickle)
    chat = get_open_ai_lm(OpenAiModelNames.gpt_4o_mini)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        results = pool.map(answer, [(chat, "What is 3+4?"), (chat, "What is 9-2?")])
    assert results == ["7", "7"], results


def local_part(model_dir: str) -> None:
    lm = get_huggingface_lm(model_dir, runtime=Runtime.PYTORCH, precision=torch.float32,
                            device="cpu")
    prediction: LmPrediction = lm.predict(LmPrompt(
        "The capital of Germany is Berlin. The capital of France is",
        max_tokens=3,
        temperature=0,
        echo=True,
    ))
    print(prediction.completion_text)
    assert len(prediction.completion_tokens) == len(prediction.completion_logprobs)
    assert len(prediction.get_full_tokens()) == len(prediction.full_logprobs)
    assert "".join(lm.remove_special_chars_from_tokens(lm.tokenize("Berlin"))) == "Berlin"
    assert lm.space_char == "Ġ" and not lm.is_encoder_decoder
    assert len(lm.tokenize_ids("Berlin")) == len(lm.tokenize("Berlin"))
    hidden = lm.predict(LmPrompt(
        "The capital of France is",
        max_tokens=1,
        temperature=0,
        add_bos_token=True,
        model_internals_request=ModelInternalsRequest(return_hidden_states=True,
                                                      hidden_layer_indexes=[-1]),
    ))
    assert hidden.internals.has_a_bos
    assert lm.predict(prediction.prompt).was_cached
    assert lm.get_model_cache_key() != get_open_ai_lm("gpt-4o-mini").get_model_cache_key()

    from transformers import AutoTokenizer

    trimmer = HfTokenTrimmer(8, AutoTokenizer.from_pretrained(model_dir))
    trimmed = get_huggingface_lm(model_dir, Runtime.PYTORCH, torch.float32, False, True, trimmer,
                                 "cpu")
    long = "Once upon a time there was a small model that learned to count: one, two,"
    pred = trimmed.predict(LmPrompt(long, max_tokens=2, temperature=0))
    assert long.endswith(pred.prompt.text) and len(pred.prompt.text) < len(long)


if __name__ == "__main__":
    set_cache_dir(Path(sys.argv[1]))
    assert cache_dir() == Path(sys.argv[1])
    clear_cache_dir()
    openai_part()
    local_part(sys.argv[2])
    print("0.18 script: OK")
