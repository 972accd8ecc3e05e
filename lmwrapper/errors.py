"""The exceptions lmwrapper raises.

    LmWrapperError                 base of everything below
    ├── ConfigurationError         a setting, key or dependency is missing; says how to set it
    │   └── MissingApiKeyError     raised only when a request must actually be sent
    ├── CostLimitExceededError     the upper bound of a run's cost is above max_cost_usd
    ├── PromptTooLongError         the prompt + max_tokens cannot fit the model's context
    └── ProviderError              a provider answered with an error
        ├── TransientProviderError worth retrying: 429, 5xx, timeout, dropped connection
        │   └── RateLimitError     the one rate-limit error for every provider
        └── PermanentProviderError retrying cannot help (bad request, content too long)

Bad *values* in an `LmPrompt` raise the builtin `ValueError` (naming the field and the range)
when the prompt is built, before any money is spent.

Inside `predict_many`, a provider error for one prompt does not raise: it comes back as an
`LmPrediction` with `has_errors` and `error_message`, so the other results are kept.
Transient failures are never cached; permanent ones are, marked as errors.
"""

from __future__ import annotations


class LmWrapperError(Exception):
    """Base class of every lmwrapper exception."""


class ConfigurationError(LmWrapperError):
    """A setting, key or optional dependency is missing or wrong."""


class MissingApiKeyError(ConfigurationError):
    """No API key was found, and a request had to be sent."""


class CostLimitExceededError(LmWrapperError):
    """The run's cost could exceed the `max_cost_usd` the caller allowed."""


class PromptTooLongError(LmWrapperError, ValueError):
    """The prompt plus the requested completion cannot fit in the model's context."""


class ProviderError(LmWrapperError):
    """A provider (or the local model) failed to produce an answer."""

    transient: bool = False

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class TransientProviderError(ProviderError):
    """Retrying later may succeed; never cached."""

    transient = True

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class RateLimitError(TransientProviderError):
    """The provider asked us to slow down (HTTP 429 or equivalent)."""


class PermanentProviderError(ProviderError):
    """Retrying the same request cannot succeed; cached as an error."""


def install_hint(package: str, extra: str) -> ConfigurationError:
    """The error for a missing optional dependency, saying which extra installs it."""
    return ConfigurationError(
        f"{package} is not installed. Install it with: pip install 'lmwrapper[{extra}]'"
    )
