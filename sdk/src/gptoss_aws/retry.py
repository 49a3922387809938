"""The one retry layer users see.

Shaped like openai-python's: two retries by default, exponential backoff from 0.5 s up to
8 s with up to 25 % jitter taken off, and a server's retry-after honoured when it is
between 0 and 60 s. boto3 clients are built with botocore's own retries turned off
(``total_max_attempts=1``), so an AWS call is retried here and only here: attempts never
multiply, and ``max_retries`` means the same thing on every backend.

What is retried: throttling, a model that is not ready yet (loading, scaling from zero,
draining), model or service failures with a 5xx status, 408 and 409 (as openai-python),
and connection errors and timeouts. Never: invalid requests, not found, permission and
authentication errors, budgets and missing prices; retrying those cannot succeed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

import anyio

from gptoss_aws.errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    InvalidRequestError,
    ModelNotReadyError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
)

T = TypeVar("T")

# openai-python ignores a retry-after beyond a minute and falls back to its own backoff.
MAX_RETRY_AFTER = 60.0


def set_retry_after(exc: BaseException, seconds: float | None) -> None:
    """Attach the server's retry-after (seconds) to an error, for the policy to honour."""
    if seconds is not None:
        vars(exc)["retry_after"] = seconds


def retry_after_of(exc: BaseException) -> float | None:
    value = vars(exc).get("retry_after")
    return float(value) if isinstance(value, int | float) else None


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(
        exc, InvalidRequestError | NotFoundError | PermissionDeniedError | AuthenticationError
    ):
        return False
    if isinstance(exc, ThrottledError | ModelNotReadyError):
        return True
    if isinstance(exc, APIStatusError):  # ModelError and any other status
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False  # budgets, missing prices, bad arguments, bugs


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to wait. ``sleep`` / ``async_sleep`` and ``random``
    are injectable so tests never really sleep and jitter is reproducible."""

    max_retries: int = 2
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    jitter: float = 0.25  # the largest fraction taken off each wait
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(default=anyio.sleep, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")

    def with_max_retries(self, max_retries: int) -> RetryPolicy:
        return replace(self, max_retries=max_retries)

    def delay(self, retry_number: int, exc: BaseException | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (0 for the first retry)."""
        retry_after = retry_after_of(exc) if exc is not None else None
        if retry_after is not None and 0 < retry_after <= MAX_RETRY_AFTER:
            return retry_after
        backoff = min(self.initial_backoff * 2.0**retry_number, self.max_backoff)
        return float(backoff * (1 - self.jitter * self.random()))

    def should_retry(self, exc: BaseException, retry_number: int) -> bool:
        return retry_number < self.max_retries and is_retryable(exc)

    def call(self, fn: Callable[[], T]) -> T:
        retry_number = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                if not self.should_retry(exc, retry_number):
                    raise
                self.sleep(self.delay(retry_number, exc))
                retry_number += 1

    async def acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        retry_number = 0
        while True:
            try:
                return await fn()
            except Exception as exc:
                if not self.should_retry(exc, retry_number):
                    raise
                await self.async_sleep(self.delay(retry_number, exc))
                retry_number += 1
