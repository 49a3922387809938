"""One exception class per failure kind, shaped like openai-python's.

Catch ``GptOssError`` for everything; ``APIStatusError`` subclasses carry the HTTP status
and the server's body so nothing the backend said is lost.
"""

from __future__ import annotations

from typing import Any


class GptOssError(Exception):
    """Base of every error this package raises."""


class ConfigurationError(GptOssError, ValueError):
    """Bad arguments or settings: the message says what is wrong and how to fix it."""


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
    """400 / 422 / ValidationException: the request itself is wrong; retrying won't help."""

    status_code = 400


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


class ModelNotReadyError(APIStatusError):
    """The model is still loading or scaling from zero (SageMaker 503 / ModelNotReady,
    Bedrock ModelNotReadyException); retried with backoff."""

    status_code = 503


class ModelError(APIStatusError):
    """The model container or service failed (5xx, SageMaker ModelError)."""

    status_code = 500


class BudgetExceededError(GptOssError):
    """A hard budget refused the call before it was made; nothing was sent or charged."""

    def __init__(self, message: str, *, budget: str, limit: float, spent: float) -> None:
        super().__init__(message)
        self.budget = budget
        self.limit = limit
        self.spent = spent


class UnpricedError(GptOssError):
    """No price is known for this model, instance type, region or service tier.

    Never treated as $0. The tracker records such a call with its cost pending (it is only
    refused when a hard USD budget must reserve its price); ``fix`` is the one command that
    fills the price (``gptoss-aws prices refresh --region R``), ``region`` its region.
    """

    region: str | None = None
    fix: str | None = None
