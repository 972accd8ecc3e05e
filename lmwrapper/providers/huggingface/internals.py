"""Model internals for a prediction: hidden states, attentions, and a logit lens.

    pred = lm.predict(LmPrompt("The capital of France is", max_tokens=3, temperature=0,
                               model_internals_request=ModelInternalsRequest(
                                   return_hidden_states=True, hidden_layer_indexes=(-1,))))
    pred.internals.tokens            # ('The', ' capital', …, ' Paris', …): prompt, then completion
    pred.internals.hidden_states[0]  # float32 array [len(tokens), hidden] for layer -1
    lm.logit_lens(pred.internals, layer=-1)   # [len(tokens), vocab] log-probs

Layer 0 is the embedding output; layer L (the last) is Hugging Face's `last_hidden_state`,
which has already been through the model's final norm. Internals are computed with one
extra forward pass over prompt + completion (batched, left-padded; padding never leaks in),
and stored in the cache as an .npz written with `allow_pickle=False`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmwrapper.core.prompt import ModelInternalsRequest


@dataclass(frozen=True)
class ModelInternals:
    """What a `ModelInternalsRequest` returns, aligned position by position with `tokens`.

    `hidden_states[j]` is layer `layers[j]` as a float32 array `[len(tokens), hidden]`;
    `attentions[l]` is transformer layer `l` (0-based) as `[heads, len(tokens), len(tokens)]`.
    The first `num_prompt_tokens` positions are the prompt, the rest the completion.
    """

    tokens: tuple[str, ...]
    token_ids: tuple[int, ...]
    num_prompt_tokens: int
    layers: tuple[int, ...]
    hidden_states: tuple[np.ndarray, ...] | None = None
    attentions: tuple[np.ndarray, ...] | None = None
    # 0.18's: whether `tokens` start with the tokenizer's BOS token (None: cached before
    # lmwrapper recorded it)
    has_a_bos: bool | None = None

    def hidden_state(self, layer: int) -> np.ndarray:
        """The hidden states of `layer` (as numbered in `layers`, negative allowed if requested so)."""
        if self.hidden_states is None:
            raise ValueError("no hidden states here: set ModelInternalsRequest(return_hidden_states=True)")
        if layer not in self.layers:
            raise ValueError(f"layer {layer} was not requested; these were: {list(self.layers)}")
        return self.hidden_states[self.layers.index(layer)]


def resolve_layers(request: ModelInternalsRequest, num_layers: int) -> tuple[int, ...]:
    """Absolute layer numbers (0 = embeddings … num_layers = last) for a request, sorted."""
    if request.hidden_layer_indexes is None and request.hidden_layer_fractions is None:
        return tuple(range(num_layers + 1))
    chosen = set()
    for i in request.hidden_layer_indexes or ():
        if not -(num_layers + 1) <= i <= num_layers:
            raise ValueError(
                f"ModelInternalsRequest.hidden_layer_indexes: {i} is out of range for a model with "
                f"{num_layers} layers (use 0..{num_layers}, or -1 for the last)")
        chosen.add(i % (num_layers + 1))
    for f in request.hidden_layer_fractions or ():
        chosen.add(round(f * num_layers))
    return tuple(sorted(chosen))


def to_blob(internals: ModelInternals) -> bytes:
    """An .npz of the arrays plus a JSON header; readable with numpy, no pickle."""
    meta = {"tokens": list(internals.tokens), "token_ids": list(internals.token_ids),
            "num_prompt_tokens": internals.num_prompt_tokens, "layers": list(internals.layers),
            "has_hidden": internals.hidden_states is not None,
            "n_attentions": len(internals.attentions) if internals.attentions is not None else -1,
            "has_a_bos": internals.has_a_bos}
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    for j, h in enumerate(internals.hidden_states or ()):
        arrays[f"hidden_{j}"] = h
    for j, a in enumerate(internals.attentions or ()):
        arrays[f"attention_{j}"] = a
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def from_blob(blob: bytes) -> ModelInternals:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        hidden = (tuple(z[f"hidden_{j}"] for j in range(len(meta["layers"])))
                  if meta["has_hidden"] else None)
        attn = (tuple(z[f"attention_{j}"] for j in range(meta["n_attentions"]))
                if meta["n_attentions"] >= 0 else None)
    return ModelInternals(tuple(meta["tokens"]), tuple(meta["token_ids"]),
                          meta["num_prompt_tokens"], tuple(meta["layers"]), hidden, attn,
                          meta.get("has_a_bos"))


def forward_internals(model: Any, seqs: Sequence[Sequence[int]], layers: Sequence[tuple[int, ...]],
                      attentions: Sequence[bool], pad_id: int
                      ) -> list[tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...] | None]]:
    """One batched forward over `seqs`; per row, the chosen layers' states and the attentions."""
    import torch

    from lmwrapper.providers.huggingface.generation import left_pad  # imports torch

    want_attn = any(attentions)
    ids, mask, positions = left_pad(seqs, pad_id, model.device)
    previous = model.config._attn_implementation
    if want_attn and previous != "eager":
        model.set_attn_implementation("eager")  # sdpa cannot return attention weights
    try:
        with torch.inference_mode():
            out = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                        output_hidden_states=True, output_attentions=want_attn, use_cache=False)
    finally:
        if want_attn and previous != "eager":
            model.set_attn_implementation(previous)
    width = ids.shape[1]
    results = []
    for i, seq in enumerate(seqs):
        start = width - len(seq)
        hidden = tuple(out.hidden_states[layer][i, start:].float().cpu().numpy() for layer in layers[i])
        attn = None
        if attentions[i]:
            attn = tuple(a[i, :, start:, start:].float().cpu().numpy() for a in out.attentions)
        results.append((hidden, attn))
    return results


def final_norm_and_head(model: Any) -> tuple[Any, Any]:
    """The model's final norm and unembedding, found by the names common architectures use."""
    base = getattr(model, model.base_model_prefix, model)
    for name in ("norm", "ln_f", "final_layer_norm", "final_layernorm", "norm_f"):
        norm = getattr(base, name, None)
        if norm is not None:
            return norm, model.get_output_embeddings()
    raise ValueError(f"logit_lens: cannot find the final norm of {type(model).__name__}; "
                     "apply it yourself to pred.internals.hidden_states")


def logit_lens(model: Any, hidden: Any, *, final_norm: bool = True) -> np.ndarray:
    """Log-probs over the vocabulary from hidden states `[..., hidden]` via final norm + unembedding.

    Pass `final_norm=False` for the last layer's states, which Hugging Face already normalised.
    """
    import torch

    norm, head = final_norm_and_head(model)
    param = next(model.parameters())
    h = torch.as_tensor(np.asarray(hidden), device=param.device, dtype=param.dtype)
    with torch.inference_mode():
        if final_norm:
            h = norm(h)
        return torch.log_softmax(head(h).float(), dim=-1).cpu().numpy()
