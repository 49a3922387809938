"""HTTP status -> the package's exception, and the server's retry-after hint.

The same mapping serves a server's answer and the status SageMaker reports from the
container (ModelError's OriginalStatusCode), so every backend raises the same classes.
"""

from __future__ import annotations

from typing import Any

from gptoss_aws.errors import (
    APIStatusError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    ModelError,
    ModelNotReadyError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
)
from gptoss_aws.retry import set_retry_after
from gptoss_aws.types import Backend


def error_for_status(
    status: int,
    message: str,
    *,
    backend: Backend,
    body: Any = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """The exception for an HTTP status, the same for a server's answer and for the
    status SageMaker reports from the container (ModelError's OriginalStatusCode)."""
    cls: type[APIStatusError]
    if status == 401:
        cls = AuthenticationError
    elif status == 403:
        cls = PermissionDeniedError
    elif status == 404:
        cls = NotFoundError
    elif status == 429:
        cls = ThrottledError
    elif status == 409:
        cls = ConflictError  # not the caller's fault; retried as openai-python does
    elif status == 408:
        cls = APIStatusError  # a timeout on the server's side; retried as openai-python does
    elif 400 <= status < 500:
        cls = InvalidRequestError  # 400, 413, 415 (not JSON), 422 ...
    elif status == 503:
        cls = ModelNotReadyError  # loading, scaling from zero or draining: try again
    else:
        cls = ModelError
    exc = cls(
        f"{backend}: {message} (HTTP {status})",
        status_code=status,
        backend=backend,
        body=body,
        request_id=request_id,
    )
    set_retry_after(exc, retry_after)
    return exc


def parse_retry_after(headers: Any) -> float | None:
    """retry-after-ms or retry-after (seconds; an HTTP date is not worth honouring)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            continue
    return None
