"""One exception class per failure kind, shaped like openai-python's.

Catch ``GptOssError`` for everything; ``APIStatusError`` subclasses carry the HTTP status
and the server's body so nothing the backend said is lost. Every exception the package
raises is defined here.

openai-python's names work too, so ``except`` clauses written for the OpenAI client keep
working. Its status mapping (``_make_status_error`` in openai-python's
``src/openai/_client.py``; classes in ``src/openai/_exceptions.py``): 400
``BadRequestError``, 401 ``AuthenticationError``, 403 ``PermissionDeniedError``, 404
``NotFoundError``, 409 ``ConflictError``, 422 ``UnprocessableEntityError``, 429
``RateLimitError``, >= 500 ``InternalServerError``, any other ``APIStatusError``. Here
``BadRequestError`` and ``UnprocessableEntityError`` are both ``InvalidRequestError``
(400, 413, 415 and 422 alike: the request is wrong, and the ledger records one error kind
for them), ``RateLimitError`` is ``ThrottledError``, ``ConflictError`` is its own subclass
of ``APIStatusError``, and ``InternalServerError`` is the base of ``ModelError`` (5xx) and
``ModelNotReadyError`` (503), so catching either the old or the openai-python names works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class GptOssError(Exception):
    """Base of every error this package raises."""


class ConfigurationError(GptOssError, ValueError):
    """Bad arguments or settings: the message says what is wrong and how to fix it."""


class InvalidConfigurationError(ConfigurationError):
    """Every problem found in a deployment configuration, reported together.

    Raised by the deployment package (``gptoss_deploy``) when it validates a configuration;
    ``problems`` are its problem records, each printed on its own line."""

    def __init__(self, source: str, problems: Sequence[Any]) -> None:
        self.source = source
        self.problems = list(problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        lines = [f"{len(self.problems)} {noun} in {source}:"]
        lines += [f"  - {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


class APIError(GptOssError):
    def __init__(
        self, message: str, *, backend: str | None = None, body: Any | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend
        self.body = body


class APIConnectionError(APIError):
    """The request never got an answer (connection refused, reset, DNS)."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIStatusError(APIError):
    """The backend answered with an error status."""

    status_code: int = 0

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        backend: str | None = None,
        body: Any | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, backend=backend, body=body)
        if status_code is not None:
            self.status_code = status_code
        self.request_id = request_id


class InvalidRequestError(APIStatusError):
    """400 / 413 / 415 / ValidationException: the request itself is wrong; retrying won't
    help."""

    status_code = 400


class ConflictError(APIStatusError):
    """409: a conflicting request was in progress; retried, as openai-python does."""

    status_code = 409


class AuthenticationError(APIStatusError):
    status_code = 401


class PermissionDeniedError(APIStatusError):
    """403 / AccessDeniedException: the credentials lack an IAM permission."""

    status_code = 403


class NotFoundError(APIStatusError):
    """404 / ResourceNotFound: no such endpoint, inference component, model or profile."""

    status_code = 404


class ThrottledError(APIStatusError):
    """429 / ThrottlingException: slow down; retried with backoff."""

    status_code = 429


class InternalServerError(APIStatusError):
    """Any 5xx: the service or the model behind it failed; retried with backoff."""

    status_code = 500


class ModelNotReadyError(InternalServerError):
    """The model is still loading or scaling from zero (SageMaker 503 / ModelNotReady,
    Bedrock ModelNotReadyException); retried with backoff."""

    status_code = 503


class ModelError(InternalServerError):
    """The model container or service failed (5xx, SageMaker ModelError)."""

    status_code = 500


class BudgetExceededError(GptOssError):
    """A hard budget refused the call before it was made; nothing was sent or charged."""

    def __init__(self, message: str, *, budget: str, limit: float, spent: float) -> None:
        super().__init__(message)
        self.budget = budget
        self.limit = limit
        self.spent = spent


class BudgetWarning(GptOssError, UserWarning):  # noqa: N818 (a warning category, named as one)
    """A soft budget was exceeded; the call went ahead (issued with ``warnings.warn``)."""


class CallAlreadyFinishedError(GptOssError, RuntimeError):
    """``finish`` was called twice on the same tracked call."""


class LedgerError(GptOssError):
    """The ledger could not be read or written (locked past the busy timeout, I/O error,
    a file written by a newer version)."""


class InvalidRecordError(ConfigurationError):
    """A call record was refused before anything was written: the message lists why."""


class UnreadableProductError(GptOssError):
    """A price-list product the refresh was meant to read but could not; the message says
    why (the refresh reports it as a finding and goes on)."""


class UnpricedError(GptOssError):
    """No price is known for this model, instance type, region or service tier.

    Never treated as $0. The tracker records such a call with its cost pending (it is only
    refused when a hard USD budget must reserve its price); ``fix`` is the one command that
    fills the price (``gptoss-aws prices refresh --region R``), ``region`` its region.
    """

    region: str | None = None
    fix: str | None = None


# openai-python's names for the same failures (see the module docstring).
OpenAIError = GptOssError
BadRequestError = InvalidRequestError
UnprocessableEntityError = InvalidRequestError
RateLimitError = ThrottledError
