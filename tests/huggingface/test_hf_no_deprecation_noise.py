"""A run on a local model prints no transformers deprecation noise: the KV cache is passed
and read under the name the installed transformers uses (`cache` in 5.x, `past_key_values`
before), so a user's stderr holds the progress bar and the summary, not a FutureWarning."""

from __future__ import annotations

import logging
import warnings

from lmwrapper.structs import LmPrompt


def test_generation_passes_the_kv_cache_under_the_current_name(tiny_lm, caplog):
    lm = tiny_lm.with_settings(cache_default=False)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        pred = lm.predict(LmPrompt("The capital of France is", max_tokens=4, temperature=0))
    assert pred.completion_tokens and not pred.has_errors
    noise = [str(w.message) for w in caught if "deprecated" in str(w.message)]
    noise += [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert noise == []
