"""The exceptions lmwrapper raises.

    LmWrapperError                 base of everything below
    ├── ConfigurationError         a setting, key or dependency is missing; says how to set it
    │   ├── MissingApiKeyError     raised only when a request must actually be sent
    │   ├── UnknownModelError      a model name we do not know (also a ValueError): did you mean
    │   ├── ModelNotFoundError     the provider answered 404: no such model (a typo, or retired)
    │   └── CacheFileError         the cache file is damaged, not ours or unwritable (names it)
    │       └── CacheLockedError   another process held its write lock past the lock timeout
    ├── CostLimitExceededError     the upper bound of a run's cost is above max_cost_usd
    ├── PromptTooLongError         the prompt + max_tokens cannot fit the model's context
    └── ProviderError              a provider answered with an error
        ├── TransientProviderError worth retrying: 429, 5xx, timeout, dropped connection
        │   ├── RateLimitError     the one rate-limit error for every provider
        │   └── BadResponseError   a 200 we could not read (billed): retried at most once
        ├── RejectedRequestError   refused for a reason that is not the prompt's (a request we
        │                          built wrongly, an error of unknown shape): not retried
        ├── RequestTooLargeError   refused by lmwrapper before sending: the prompt is larger than
        │                          the provider's request limit or than the cache can store
        └── PermanentProviderError belongs to the prompt (context too long, a content refusal)

Two questions decide what happens to a failed prompt, and each error class answers both:

    retryable   the live runner tries it again (TransientProviderError and subclasses)
    transient   it does not belong to the prompt: NOT cached, a rerun sends it again
                (everything but PermanentProviderError)

Bad *values* in an `LmPrompt` raise the builtin `ValueError` (naming the field and the range)
when the prompt is built, before any money is spent.

Inside `predict_many`, a provider error for one prompt does not raise: it comes back as an
`LmPrediction` with `has_errors` and `error_message` (and `error_is_transient` = the error's
`transient`), so the other results are kept. Only permanent errors are cached. A
`ConfigurationError` concerns every prompt (a bad key, no credit, a model the provider does
not have: `ModelNotFoundError`), so it is raised once instead and the run sends nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


class LmWrapperError(Exception):
    """Base class of every lmwrapper exception."""


class ConfigurationError(LmWrapperError):
    """A setting, key or optional dependency is missing or wrong."""


class MissingApiKeyError(ConfigurationError):
    """No API key was found, and a request had to be sent."""


class UnknownModelError(ConfigurationError, ValueError):
    """A model name lmwrapper does not know and will not guess facts (price, context) for."""


class ModelNotFoundError(ConfigurationError):
    """The provider does not know the model: a misspelt name, or one it has retired (404).

    It concerns every prompt of the run, not one: `predict_many` raises it once and sends
    nothing more (answers already received stay stored). Never retried, never cached
    (`transient`): a rerun with the right name sends every prompt.
    """

    transient = True  # does not belong to a prompt: not cached
    retryable = False  # the same name will not exist a second later

    def __init__(self, message: str, *, model: str, status_code: int | None = 404,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.status_code = status_code
        self.code = code


class CacheFileError(ConfigurationError):
    """The cache file cannot be used: damaged, not ours, locked or unwritable.

    The message names the file and what to do; the file itself is left as it was.
    """


class CacheLockedError(CacheFileError):
    """Another process held the cache file's write lock for longer than the lock timeout."""


class CostLimitExceededError(LmWrapperError):
    """The run's cost could exceed the `max_cost_usd` the caller allowed."""


class PromptTooLongError(LmWrapperError, ValueError):
    """The prompt plus the requested completion cannot fit in the model's context."""


class ProviderError(LmWrapperError):
    """A provider (or the local model) failed to produce an answer.

    `status_code`: the HTTP status, if any; `code`: the provider's error code or type
    (`context_length_exceeded`, `overloaded_error`, ...), if it gave one.
    """

    transient: bool = False  # True: does not belong to the prompt; not cached
    retryable: bool = False  # True: the live runner sends it again

    def __init__(
        self, message: str, *, status_code: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code


class TransientProviderError(ProviderError):
    """Retrying later may succeed; never cached."""

    transient = True
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code)
        self.retry_after = retry_after


class RateLimitError(TransientProviderError):
    """The provider asked us to slow down (HTTP 429 or equivalent)."""


class BadResponseError(TransientProviderError):
    """A 200 whose body is malformed or has fewer choices than asked.

    The provider billed it, so the live runner retries it at most
    `RetryPolicy.max_bad_response_retries` times (default 1), not like a free 5xx.
    """


class RejectedRequestError(ProviderError):
    """The provider refused the request for a reason that is not the prompt's.

    A 400 for a request we built wrongly, or an error we cannot read. Retrying the same
    request at once cannot help, and caching it would hide the answer after a fix: it is
    not retried and not cached (`transient`), so a rerun sends the prompt again.
    """

    transient = True


class RequestTooLargeError(ProviderError):
    """The prompt is larger than a request to the provider may be (its documented byte or
    character limit), or than the cache file can store; refused before anything was sent.

    Nothing was paid. Not retried, and not cached (`transient`): an error row would hold the
    prompt too, and a rerun checks again (after the limit, or the prompt, changed). The
    message names the limit and its source; `limit` is it, in `unit`s.
    """

    transient = True

    def __init__(self, message: str, *, limit: int = 0, unit: str = "bytes") -> None:
        super().__init__(message, code="request_too_large")
        self.limit = limit
        self.unit = unit


class PermanentProviderError(ProviderError):
    """The error belongs to the prompt (context too long, a content refusal); cached."""


def install_hint(package: str, extra: str) -> ConfigurationError:
    """The error for a missing optional dependency, saying which extra installs it."""
    return ConfigurationError(
        f"{package} is not installed. Install it with: pip install 'lmwrapper[{extra}]'"
    )


def no_public_name(module: str, name: str, public: Iterable[str]) -> AttributeError:
    """The error for a name a public module does not have (say, an internal module its
    provider's folder has): its public names, and where the rest of the public API is."""
    return AttributeError(
        f"module {module!r} has no attribute {name!r}. Its public names: "
        f"{', '.join(sorted(public))}; the rest of the public API is `lmwrapper`'s own "
        "(docs/reference). Modules under lmwrapper.providers are internal: their paths may "
        "change.")


class ModelRetiringWarning(UserWarning):
    """The model's provider has announced its shutdown (the date may be past)."""
