"""`HuggingFaceBackend`: a local causal LM, held by its front door `HuggingFacePredictor`.

The engine hands `_run` the cache misses; we turn each sample into a `Row`, sort rows by
prompt length (so a batch wastes little padding), and decode them `batch_size` at a time with
continuous batching (a row that finishes is replaced by the next waiting one, see
`generation`), and emit each prompt's predictions as soon as its last sample is done: a row is converted
the moment it leaves its batch, not when the batch ends, so it is stored (and counted by the
progress bar) while the batch's longer rows still decode. Rows that asked for internals
wait for the batch's end: their internals come from one extra forward over all of them, so
they run in plain batches of `batch_size`, without refill.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lmwrapper.core.context import ContextNeed
from lmwrapper.core.contract import Emit, Job
from lmwrapper.core.errors import PermanentProviderError, TransientProviderError
from lmwrapper.core.money import CostEstimate
from lmwrapper.core.prompt import LmPrediction, LmPrompt, LmUsage
from lmwrapper.core.structured import wants_json
from lmwrapper.core.window import CompletionWindow
from lmwrapper.engine.backend import LmBackend
from lmwrapper.engine.context import refusal
from lmwrapper.engine.plan import unique_prompts
from lmwrapper.providers.huggingface import internals as _internals
from lmwrapper.providers.huggingface import rows as _rows
from lmwrapper.providers.huggingface.constrained import Grammars, require_llguidance, schema_of
from lmwrapper.providers.huggingface.prompts import PromptEncoder, encoding_identity
from lmwrapper.providers.huggingface.stopping import (
    RUNNING,
    ShouldStop,
    Stopped,
    interruptible,
    stop_check,
)
from lmwrapper.providers.huggingface.tokens import LocalTokens

if TYPE_CHECKING:  # generation imports torch: a fully cached run never needs it
    from lmwrapper.providers.huggingface.generation import Row, RowResult

# max_tokens=None on a local model: token_limit // 16 (as lmwrapper 0.18 did), at most this.
DEFAULT_MAX_TOKENS_CAP = 512


class HuggingFaceBackend(LocalTokens, LmBackend):
    """A loaded model + tokenizer: what `HuggingFacePredictor` holds (`lm.backend`)."""

    provider = "huggingface"
    supports_context_split = True  # LmPrompt.context_split: pairs tokenised as the harness does
    supports_token_slice = True  # LmPrompt.token_slice: a window of a long text's tokens
    runs_locally = True  # its tokens cost nothing: max_cost_usd is satisfied, not refused

    def __init__(self, model: Any, tokenizer: Any, config: Any, *, name: str,
                 identity: dict[str, Any], batch_size: int, use_chat_mode: bool | None = None,
                 load_tokenizer: Callable[[], tuple[Any, Any]] | None = None,
                 has_template: bool | None = None) -> None:
        """`model` is a loaded model, or a function that loads it (called on first use).
        With `load_tokenizer` (and `has_template`, read from the folder), `tokenizer` and
        `config` may be None: they load on first use too, so a fully cached run needs
        neither them nor torch."""
        loaded = hasattr(model, "parameters")  # a torch module, not a loader function
        self._model: Any = model if loaded else None
        self._load_model: Callable[[], Any] | None = None if loaded else model
        self._tokenizer, self._config = tokenizer, config
        self._load_tokenizer = None if tokenizer is not None else load_tokenizer
        self._encoder: PromptEncoder | None = None
        self._grammars: Grammars | None = None  # compiled response-format grammars
        self.batch_size = batch_size
        self._name = name
        self._forced = use_chat_mode
        if tokenizer is not None:
            has_template = bool(getattr(tokenizer, "chat_template", None))
        self._has_template = bool(has_template)
        self._identity = {"provider": self.provider, "model": name, **identity,
                          **encoding_identity(self._has_template, use_chat_mode)}
        self._lock = threading.RLock()  # one generation at a time on the model
        self._eos_extra: set[int] = set()  # the generation config's, once the model loads
        if self._model is not None:
            self._eos_extra = _rows.eos_ids(getattr(self._model, "generation_config", None), None)

    @property
    def model(self) -> Any:
        """The torch model; loaded on first access, so a fully cached run never loads weights."""
        with self._lock:
            if self._model is None:
                assert self._load_model is not None
                _ = self.tokenizer  # running needs both; a failure here names the folder
                self._model = self._load_model()
                self._eos_extra = _rows.eos_ids(getattr(self._model, "generation_config", None), None)
            return self._model

    @property
    def tokenizer(self) -> Any:
        with self._lock:
            if self._tokenizer is None:
                assert self._load_tokenizer is not None
                tokenizer, config = self._load_tokenizer()
                if bool(getattr(tokenizer, "chat_template", None)) != self._has_template:
                    raise RuntimeError(
                        f"{self._name}: the tokenizer's chat template does not match what was "
                        "read from the folder's files (so the cache identity would be wrong); "
                        "re-save the tokenizer with save_pretrained")
                self._tokenizer, self._config, self._load_tokenizer = tokenizer, config, None
            return self._tokenizer

    @property
    def config(self) -> Any:
        if self._config is None:
            _ = self.tokenizer
        return self._config

    @property
    def encoder(self) -> PromptEncoder:
        if self._encoder is None:
            self._encoder = PromptEncoder(self.tokenizer, self._forced)
        return self._encoder

    @property
    def grammars(self) -> Grammars:
        with self._lock:
            if self._grammars is None:
                _ = self.model  # its generation config may add end-of-sequence ids
                self._grammars = Grammars(self.tokenizer, self.eos_ids)
            return self._grammars

    @property
    def eos_ids(self) -> set[int]:
        return _rows.eos_ids(self.config, self.tokenizer) | self._eos_extra

    @property
    def pad_id(self) -> int:
        return _rows.pad_id(self.tokenizer, self.eos_ids)

    def constructor_args(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The arguments that make another backend like this one sharing its weights (no
        reload): `HuggingFacePredictor.with_settings`. A subclass with arguments of its own
        adds them."""
        identity = {k: v for k, v in self._identity.items()
                    if k not in ("provider", "model", "chat_mode", "strings")}
        return ((self._model or self._load_model, self._tokenizer, self._config),
                {"name": self._name, "identity": identity, "batch_size": self.batch_size,
                 "use_chat_mode": self._forced, "load_tokenizer": self._load_tokenizer,
                 "has_template": self._has_template})

    # -- identity, limits, validation -----------------------------------------------------

    def model_identity(self) -> dict[str, Any]:
        return dict(self._identity)

    @property
    def num_layers(self) -> int:
        config = self.config
        return int(getattr(config, "num_hidden_layers", None) or config.n_layer)

    @property
    def token_limit(self) -> int:
        config = self.config
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return int(min(self.tokenizer.model_max_length, 1 << 20))

    def default_max_tokens(self, prompt: LmPrompt) -> int:
        """What `max_tokens=None` means here: min(token_limit // 16, 512), less where the
        prompt leaves less room, so nothing runs for minutes by accident."""
        return self._default_max_new(self.estimate_tokens_in_prompt(prompt))

    def _default_max_new(self, prompt_tokens: int) -> int:
        room = self.token_limit - prompt_tokens
        return max(1, min(self.token_limit // 16, DEFAULT_MAX_TOKENS_CAP, room))

    def estimate_tokens_in_prompt(self, prompt: LmPrompt) -> int:
        return len(self.encoder.encode(prompt))

    def estimate_cost(self, prompts: Sequence[LmPrompt], completion_window: CompletionWindow =
                      CompletionWindow.ASAP, *, samples: Sequence[int] | None = None) -> CostEstimate:
        """Free, with the tokens counted by the model's tokenizer and chat template (the
        weights are not loaded): how big a run is matters on a local model too."""
        # bare strings read as predict_many reads them; a repeated prompt priced once
        prompts, samples = unique_prompts(prompts, samples, self.cache_default)
        counts = list(samples) if samples is not None else [p.samples_needed for p in prompts]
        sizes = [self.estimate_tokens_in_prompt(p) for p in prompts]
        out = sum((p.max_tokens if p.max_tokens is not None else self._default_max_new(size)) * n
                  for p, size, n in zip(prompts, sizes, counts, strict=True))
        return CostEstimate(len(prompts), sum(sizes), out, 0.0, 0.0, priced=True, free=True)

    def validate_prompt(self, prompt: LmPrompt) -> None:
        for name in ("reasoning_effort", "verbosity", "thinking"):  # the API providers' knobs
            if getattr(prompt, name) is not None:
                raise ValueError(f"LmPrompt.{name} cannot be honoured by {self.model_name()}: "
                                 "a local model has no such setting (its chat template is "
                                 f"applied as it is); leave {name}=None")
        if wants_json(prompt.response_format):  # decoded under the schema's grammar
            require_llguidance(light=True)
            schema_of(prompt.response_format)
        if self._tokenizer is not None:  # else checked in _run: a cache hit needs no tokenizer
            self._validate_encoding(prompt)

    def _validate_encoding(self, prompt: LmPrompt) -> None:
        self.encoder.validate(prompt)
        if prompt.model_internals_request is not None:
            _internals.resolve_layers(prompt.model_internals_request, self.num_layers)

    # -- running --------------------------------------------------------------------------

    def _run(self, jobs: Sequence[Job], window: CompletionWindow, emit: Emit,
             should_stop: ShouldStop) -> None:
        """Emit each job once all its samples are done; soon after `should_stop()` turns true,
        return without emitting the jobs that are not complete (see generation's docstring)."""
        stop = stop_check(should_stop)
        for job in jobs:  # what validate_prompt left for when the tokenizer is loaded
            self._validate_encoding(job.prompt)
        with RUNNING:  # the exit handler waits for us to leave the model
            rows, done = self._plan(jobs, emit, stop)
            for batch, width in self._batches(jobs, rows):
                if stop():
                    return
                self._predict_or_split(jobs, batch, stop, done, width)

    def _batches(self, jobs: Sequence[Job], rows: list[tuple[int, int, Row]]
                 ) -> list[tuple[list[tuple[int, int, Row]], int]]:
        """(rows, how many decode at once): score-only rows in batches of whole packs of rows
        that share a prefix (see `shared_prefix`); rows that ask for internals in slices of
        `batch_size`; all the others in one run, `batch_size` at a time with refill. In
        `_plan`'s order."""
        from lmwrapper.providers.huggingface.shared_prefix import can_pack, score_batches  # torch

        scoring = [r for r in rows if _rows.score_only(jobs[r[0]].prompt)]
        internal = [r for r in rows if jobs[r[0]].prompt.model_internals_request is not None]
        others = [r for r in rows if not _rows.score_only(jobs[r[0]].prompt)
                  and jobs[r[0]].prompt.model_internals_request is None]
        share = bool(scoring) and can_pack(self.model)
        batches = [([scoring[k] for k in batch], len(batch)) for batch in score_batches(
            [r[2].prompt_ids for r in scoring], self.batch_size, share)]
        if others:
            batches.append((others, self.batch_size))
        slices = [internal[s:s + self.batch_size] for s in range(0, len(internal), self.batch_size)]
        return batches + [(part, len(part)) for part in slices]

    def _plan(self, jobs: Sequence[Job], emit: Emit, stop: ShouldStop
              ) -> tuple[list[tuple[int, int, Row]], _rows.Collector]:
        """The rows to generate, sorted for batching; prompts that cannot fit are emitted
        as errors here."""
        rows: list[tuple[int, int, Row]] = []  # (job number, position among its samples, row)
        done = _rows.Collector(jobs, emit)
        for j, job in enumerate(jobs):
            if j % 256 == 0 and stop():  # tokenizing 100,000s of prompts takes a while
                return [], done
            ids = self.encoder.encode(job.prompt)
            # the engine refused the prompts that cannot fit before handing jobs over; this
            # keeps a job handed to `_run` by other code from failing inside a batch
            why = refusal(self._need(job.prompt, len(ids)), self._name)
            if why is not None:
                error = PermanentProviderError(why)
                emit(job, [self.error_prediction(job.prompt, error)] * len(job.sample_indices))
                continue
            if job.prompt.context_split is not None and _rows.score_only(job.prompt):
                ids = ids[-(self.token_limit + 1):]  # a long pair is cut from the left (harness)
            done.expect(j)
            for pos, sample_index in enumerate(job.sample_indices):
                rows.append((j, pos, self._row(job.prompt, ids, sample_index)))
        # Similar lengths share a batch (little padding). Rows that need every position's
        # logits (echo) or an internals pass go together, so they do not slow the others.
        rows.sort(key=lambda r: (jobs[r[0]].prompt.model_internals_request is not None,
                                 r[2].echo, len(r[2].prompt_ids)))
        return rows, done

    def context_need(self, prompt: LmPrompt) -> ContextNeed | None:
        """The prompt's tokens by the model's own tokenizer and chat template (exact), plus
        the tokens it asks to generate, against the model's context (`token_limit`)."""
        return self._need(prompt, len(self.encoder.encode(prompt)))

    def _need(self, prompt: LmPrompt, n: int) -> ContextNeed | None:
        limit, how = self.token_limit, "the model's tokenizer"
        if _rows.score_only(prompt):  # the last token is predicted, never fed: limit + 1 fit
            if prompt.context_split is not None:
                return None  # a long pair is cut from the left (the harness's rule)
            return ContextNeed(n - 1, 0, limit, how,
                               counts=f"tokens fed to score it (its {n} less the last, never fed)",
                               fix="Shorten the prompt, or score it as a pair with context_split "
                                   "(cut from the left, as the harness does).")
        return ContextNeed(n, prompt.max_tokens or 1, limit, how)

    def _row(self, prompt: LmPrompt, ids: list[int], sample_index: int) -> Row:
        max_new = prompt.max_tokens or self._default_max_new(len(ids))
        stop = prompt.stop
        stopped = None
        if stop:
            def stopped(gen: list[int], stop: Sequence[str] = stop) -> bool:
                text = self.decode(gen)
                return any(s in text for s in stop)
        from lmwrapper.providers.huggingface.generation import Row  # imports torch

        constraint = None
        if wants_json(prompt.response_format):
            constraint = self.grammars.matcher_factory(prompt.response_format)
        return Row(prompt_ids=ids, max_new_tokens=max_new, temperature=prompt.temperature,
                   top_p=prompt.top_p, presence_penalty=prompt.presence_penalty,
                   frequency_penalty=prompt.frequency_penalty, top_logprobs=prompt.logprobs or 0,
                   echo=prompt.echo, seed=_rows.sample_seed(prompt.seed, sample_index), stopped=stopped,
                   constraint=constraint)

    def _predict_or_split(self, jobs: Sequence[Job], batch: list[tuple[int, int, Row]],
                          stop: ShouldStop, done: _rows.Collector, width: int) -> None:
        """Run `batch`, `width` rows at a time, handing each finished row to `done`; out of
        device memory, run the rows not yet handed over again, half as many at a time (a
        batch without refill: as halves), down to one; a single row out of memory is that
        row's error. A row unfinished when the run stopped is never handed over."""
        import torch

        try:
            self._predict_batch(jobs, batch, stop, done, width)
        except getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError):
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            left = [r for r in batch if not done.has(r[0], r[1])]  # emitted once is enough
            if not left:
                return
            if min(width, len(left)) <= 1:  # one row at a time: the first left is the one
                j, pos, row = left[0]
                done.add(j, pos, self.error_prediction(jobs[j].prompt, TransientProviderError(
                    f"out of device memory for one row of {len(row.prompt_ids)} prompt "
                    "tokens; lower max_tokens or use a smaller dtype / another device")))
                if left[1:]:
                    self._predict_or_split(jobs, left[1:], stop, done, 1)
                return
            half = max(1, min(width, len(left)) // 2)
            if width < len(batch):  # refilled: the rest, half as many at a time
                self._predict_or_split(jobs, left, stop, done, half)
                return
            for part in (left[:half], left[half:]):
                if part:
                    self._predict_or_split(jobs, part, stop, done, len(part))

    def _predict_batch(self, jobs: Sequence[Job], batch: list[tuple[int, int, Row]],
                       stop: ShouldStop, done: _rows.Collector, width: int) -> None:
        """Each row is converted and handed to `done` as it leaves the batch; rows that
        asked for internals wait for the batch's end, for their one extra forward."""
        from lmwrapper.providers.huggingface.prefill import run_rows  # imports torch

        rows = [r for _, _, r in batch]
        later: list[tuple[int, LmPrediction, list[int]]] = []  # (b, prediction, kept ids)

        def on_done(b: int, res: RowResult) -> None:
            j, pos, row = batch[b]
            pred, kept = self._prediction(jobs[j].prompt, row, res)
            if jobs[j].prompt.model_internals_request is not None:
                later.append((b, pred, kept))
            else:
                done.add(j, pos, pred)

        with self._lock:
            model = self.model  # loads the weights on first use, adding generation_config's eos
            score_only = [jobs[j].prompt.max_tokens == 0 for j, _, _ in batch]
            run_rows(model, rows, score_only, self.pad_id, self.eos_ids, stop, on_done, width)
            if not later:
                return
            preds = self._add_internals([jobs[batch[b][0]].prompt for b, _, _ in later],
                                        [rows[b] for b, _, _ in later], [p for _, p, _ in later],
                                        [k for _, _, k in later], stop)
        for (b, _, _), pred in zip(later, preds):
            if pred is not None:  # None: its internals pass was stopped
                done.add(batch[b][0], batch[b][1], pred)

    def _prediction(self, prompt: LmPrompt, row: Row, res: RowResult
                    ) -> tuple[LmPrediction, list[int]]:
        """The prediction for one row, and the completion ids it kept (after a stop string)."""
        ids, text = self._truncate_at_stop(res.token_ids, prompt.stop)
        n = len(ids)
        tokens = tuple(self.token_str(t) for t in ids)
        top = None
        if prompt.logprobs:
            top = tuple({self.token_str(t): lp for t, lp in reversed(alts)}
                        for alts in res.top_logprobs[:n])
            top = tuple(dict(sorted(d.items(), key=lambda kv: -kv[1])) for d in top)
        return LmPrediction(
            completion_text=text, prompt=prompt, finish_reason=res.finish_reason,
            completion_tokens=tokens, completion_logprobs=tuple(res.logprobs[:n]),
            top_token_logprobs=top,
            prompt_tokens=tuple(self.token_str(t) for t in row.prompt_ids) if prompt.echo else None,
            prompt_logprobs=tuple(res.prompt_logprobs or ()) if prompt.echo else None,
            prompt_top_logprobs=self._prompt_tops(res) if prompt.echo and prompt.logprobs else None,
            usage=LmUsage(len(row.prompt_ids), len(res.token_ids)),
            provider=self.provider, model=self._name,
        ), ids

    def _prompt_tops(self, res: RowResult) -> tuple[dict[str, float] | None, ...]:
        """Top-k alternatives at each prompt position, most likely first (None for the first)."""
        return tuple(None if alts is None else dict(sorted(
            {self.token_str(t): lp for t, lp in reversed(alts)}.items(), key=lambda kv: -kv[1]))
            for alts in res.prompt_top_logprobs or ())

    def _truncate_at_stop(self, ids: list[int], stop: Sequence[str] | None) -> tuple[list[int], str]:
        """Text ending before the first stop string; tokens that start before it."""
        text = self.decode(ids)
        cut = min((i for i in (text.find(s) for s in stop or ()) if i >= 0), default=-1)
        if cut < 0:
            return ids, text
        kept = 0
        while kept < len(ids) and len(self.decode(ids[:kept])) < cut:
            kept += 1
        return ids[:kept], text[:cut]

    def _add_internals(self, prompts: list[LmPrompt], rows: list[Row],
                       preds: list[LmPrediction], kept: list[list[int]], stop: ShouldStop
                       ) -> list[LmPrediction | None]:
        """`preds` with their internals; None for those whose pass was stopped."""
        wanted = [i for i, p in enumerate(prompts) if p.model_internals_request is not None]
        if not wanted:
            return list(preds)
        seqs = [rows[i].prompt_ids + kept[i] for i in wanted]
        reqs = [r for r in (prompts[i].model_internals_request for i in wanted) if r is not None]
        layers = [_internals.resolve_layers(r, self.num_layers) for r in reqs]
        out: list[LmPrediction | None] = list(preds)
        try:
            with RUNNING, interruptible(self.model, stop):
                if stop():
                    raise Stopped
                values = _internals.forward_internals(self.model, seqs, layers,
                                                      [r.return_attentions for r in reqs],
                                                      self.pad_id)
        except Stopped:
            for i in wanted:
                out[i] = None
            return out
        for i, seq, req, lay, (hidden, attn) in zip(wanted, seqs, reqs, layers, values):
            value = _internals.ModelInternals(
                tokens=tuple(self.token_str(t) for t in seq), token_ids=tuple(seq),
                num_prompt_tokens=len(rows[i].prompt_ids), layers=lay,
                hidden_states=hidden if req.return_hidden_states else None, attentions=attn,
                has_a_bos=bool(seq) and seq[0] == self.tokenizer.bos_token_id)
            out[i] = preds[i].evolve(internals=value)
        return out

    # -- helpers for notebooks --------------------------------------------------------------

    def apply_chat_template(self, chat_history: list[dict[str, str]],
                            add_generation_prompt: bool = True) -> str:
        """The chat as text, by the tokenizer's own template: what lm-evaluation-harness's
        `HFLM.apply_chat_template` returns (`scoring`'s `apply_chat_template=True` uses it)."""
        return self.encoder.render_chat(chat_history, add_generation_prompt)

    def token_str(self, token_id: int) -> str:
        """One token as text; a token that is only part of a UTF-8 character (which would
        decode to U+FFFD) is shown in the tokenizer's own form, so distinct ids stay distinct."""
        text = self.decode([token_id])
        if "\ufffd" in text:
            return str(self.tokenizer.convert_ids_to_tokens(token_id))
        return text

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False,
                                     clean_up_tokenization_spaces=False)

    def logit_lens(self, internals: _internals.ModelInternals, layer: int) -> Any:
        """Next-token log-probs `[len(tokens), vocab]` read from `layer` through the final norm.

        The last layer is already normalised by the model, so its lens is the model's own output.
        """
        absolute = layer % (self.num_layers + 1)
        hidden = internals.hidden_state(layer if layer in internals.layers else absolute)
        return _internals.logit_lens(self.model, hidden, final_norm=absolute != self.num_layers)

    def internals_to_blob(self, internals: Any) -> bytes | None:
        return _internals.to_blob(internals)

    def blob_to_internals(self, blob: bytes) -> Any:
        return _internals.from_blob(blob)

    # -- pickling and forking ------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Pickle with the weights: the lazy loader is a closure, which pickle cannot carry."""
        if self._model is None:
            _ = self.model
        return {**self.__dict__, "_lock": None, "_load_model": None,
                "_load_tokenizer": None, "_grammars": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def _after_fork(self) -> None:
        super()._after_fork()
        self._lock = threading.RLock()  # a parent thread may have held it at fork
