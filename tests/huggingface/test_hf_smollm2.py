"""The embedded SmolLM2-135M-Instruct: real answers, chat template, batching, logit lens."""

from __future__ import annotations

import json

import hf_reference as ref
import numpy as np
import pytest

from lmwrapper.huggingface_wrapper import ModelInternalsRequest
from lmwrapper.providers.huggingface import smollm2
from lmwrapper.structs import LmChatTurn, LmPrompt

pytestmark = pytest.mark.slow


def test_readme_paris_example(smol_lm):
    prediction = smol_lm.predict(LmPrompt(
        "The capital of Germany is Berlin. The capital of France is",
        max_tokens=1,
        temperature=0,
    ))
    assert prediction.completion_text == " Paris"
    assert prediction.completion_logprobs[0] > -0.5


def test_the_converted_folder_records_its_source(smol_lm):
    folder = smollm2.smollm2_path(smol_lm._cache_dir)
    assert smollm2.GGUF_SHA256 in (folder / "SOURCE.txt").read_text()
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    ident = smol_lm.model_identity()
    assert ident["model"] == "smollm2-135m-instruct" and ident["gguf_sha256"] == smollm2.GGUF_SHA256


def test_chat_template_with_system_turn_and_one_bos(smol_lm):
    chat = [LmChatTurn("system", "You answer with one word."),
            LmChatTurn("user", "What is the capital of France?")]
    ids = smol_lm.encoder.encode(LmPrompt(chat))
    text = smol_lm.decode(ids)
    assert text.startswith("<|im_start|>system\nYou answer with one word.<|im_end|>")
    assert text.endswith("<|im_start|>assistant\n")
    assert "SmolLM" not in text  # our system turn replaced the template's default one
    assert ids[0] == smol_lm.tokenizer.bos_token_id and ids[1] != ids[0]
    pred = smol_lm.predict(LmPrompt(chat, max_tokens=10, temperature=0))
    assert "Paris" in pred.completion_text
    assert pred.finish_reason == "stop" and "<|im_end|>" not in pred.completion_text


def test_prefill_continues_the_assistant_turn(smol_lm):
    """A last assistant turn is continued: no <|im_end|> after it, no new assistant header,
    and the continuation is what plain transformers gives for that exact text."""
    chat = [LmChatTurn("user", "What is the capital of France?"),
            LmChatTurn("assistant", "The capital of France is")]
    ids = smol_lm.encoder.encode(LmPrompt(chat))
    assert smol_lm.decode(ids).endswith("<|im_start|>assistant\nThe capital of France is")
    pred = smol_lm.predict(LmPrompt(chat, max_tokens=3, temperature=0))
    assert pred.completion_text == smol_lm.decode(ref.greedy(smol_lm, ids, 3))
    assert "Paris" in pred.completion_text


def test_batched_greedy_equals_one_at_a_time(smol_lm):
    """Two rows at a time over four prompts: finished rows are refilled (continuous
    batching), some stop at the end of turn, some at their own max_tokens."""
    questions = ["What is 2 + 2?", "Name a color.", "What is the capital of Italy?",
                 "Write a haiku about the sea in one line, please, and keep it short."]
    prompts = [LmPrompt([q], max_tokens=m, temperature=0)
               for q, m in zip(questions, [12, 3, 12, 7])]
    preds = list(smol_lm.with_settings(batch_size=2).predict_many(prompts))
    for p, pred in zip(prompts, preds):
        ids = smol_lm.encoder.encode(p)
        expected = ref.greedy(smol_lm, ids, p.max_tokens)
        assert pred.completion_text == smol_lm.decode(expected)
        plain = ref.token_logprobs(smol_lm, ids + expected)[len(ids) - 1:]
        assert pred.completion_logprobs == pytest.approx(plain, abs=1e-4)


def test_logit_lens_last_layer_equals_model_logits(smol_lm):
    req = ModelInternalsRequest(return_hidden_states=True, hidden_layer_indexes=(-1, 15))
    pred = smol_lm.predict(LmPrompt("The capital of France is", max_tokens=2, temperature=0,
                                    model_internals_request=req))
    it = pred.internals
    assert it.layers == (15, 30)
    lens = smol_lm.logit_lens(it, layer=-1)
    plain = ref.full_logprobs(smol_lm, list(it.token_ids)).numpy()
    np.testing.assert_allclose(lens, plain, atol=1e-4)
    # the lens at the last prompt position predicts the token the model generated
    assert smol_lm.token_str(int(lens[it.num_prompt_tokens - 1].argmax())) == pred.completion_tokens[0]
    mid = smol_lm.logit_lens(it, layer=15)
    assert mid.shape == lens.shape and not np.allclose(mid, lens, atol=1e-2)


def fetch_checked(tmp_path, monkeypatch):
    """A file with another hash is refused and leaves nothing behind; the pinned one is kept."""
    from lmwrapper import ConfigurationError

    models = tmp_path / "models"
    models.mkdir()
    (models / smollm2.GGUF_FILE_NAME).write_bytes(b"not a gguf")  # a stale partial file
    real = smollm2.GGUF_SHA256
    monkeypatch.setattr(smollm2, "GGUF_SHA256", "0" * 64)
    with pytest.raises(ConfigurationError, match="refusing"):
        smollm2._gguf_path(models)
    assert [p.name for p in models.iterdir()] == [smollm2.GGUF_FILE_NAME]  # only the stale one
    monkeypatch.setattr(smollm2, "GGUF_SHA256", real)
    path = smollm2._gguf_path(models)
    assert path.stat().st_size == smollm2.GGUF_SIZE and smollm2.file_sha256(path) == real
    assert sorted(p.name for p in models.iterdir()) == [smollm2.GGUF_FILE_NAME]
    return path


def test_fetch_checks_sha256_and_a_gguf_file_loads_like_the_conversion(smol_lm, tmp_path,
                                                                        monkeypatch):
    """The fetch refuses a wrong hash; then `gguf_file=` (a user's own GGUF) on the fetched
    file gives what our converted safetensors folder gives."""
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    path = fetch_checked(tmp_path, monkeypatch)
    lm = get_huggingface_lm(str(path.parent), gguf_file=path.name, device="cpu",
                            cache_default=False)
    ident = lm.model_identity()
    assert ident["gguf_file"] == path.name and ident["gguf_sha256"] == smollm2.GGUF_SHA256
    prompt = LmPrompt("The capital of Germany is Berlin. The capital of France is",
                      max_tokens=4, temperature=0)
    mine, converted = lm.predict(prompt), smol_lm.predict(prompt)
    assert mine.completion_text == converted.completion_text
    assert mine.completion_logprobs == pytest.approx(converted.completion_logprobs, abs=1e-5)
    path.unlink()  # 98 MB; pytest keeps old temporary folders around
