"""Everything that exists only so scripts written for lmwrapper 0.18 run unchanged.

Internal: 0.18's own import paths (`lmwrapper.structs`, `lmwrapper.openai_wrapper`, ...) and
`lmwrapper.Lmwrapper018Warning` are the public way in; module paths here may change.

This package sits above every layer and nothing below imports it. `lmwrapper/__init__.py`
imports it last, and importing it installs 0.18's behaviour into the extension points the
layers below declare (`lmwrapper.core.extend`), so it is present before any user code runs:

- `lend`: 0.18's methods and properties become the classes' own members — `LmPrompt` and
  `LmPrediction` (`values`), `LmPredictor` (`hooks.PredictorCompat018`), and
  `HuggingFacePredictor` when its module loads (`hf_names`). Each class declares them under
  `if TYPE_CHECKING:`, so mypy checks 0.18 code against them without importing this package.
- `adapter`: functions the core and the factories call where a 0.18 argument or a 0.18
  subclass needs meaning (`LmPrompt(stop_mode=)`, `LmChatTurn(function_call=)`,
  `get_open_ai_lm(organization=)`, `get_huggingface_lm(runtime=, prompt_trimmer=)`, a
  subclass's `get_model_cache_key` / `_predict_maybe_cached`).

Why lending and named adapters rather than the earlier mixin bases and function-level
imports: a base class or an import is an arrow from the core up to this package; a lent
member or an adapter is an arrow from here down, and the members are still plain attributes
of the classes (same lookup, same pickles, same cache keys). What is a part of the values or
the front door in its own right stays there: `StopMode` and `prompt.stop_mode` (the type
and read-back of an `LmPrompt` argument, which `dataclasses.replace` reads), fork safety
(`lmwrapper.engine.fork`), pickling, a local model's `tokenize` and capability flags.
"""

from lmwrapper.compat018 import hf_names, hooks, values

values.install()
hooks.install()
hf_names.install()
