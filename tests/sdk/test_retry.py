"""The retry policy: what is retried, how long it waits, and that it never really sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from gptoss_aws.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BudgetExceededError,
    ConfigurationError,
    InvalidRequestError,
    ModelError,
    ModelNotReadyError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
    UnpricedError,
)
from gptoss_aws.retry import RetryPolicy, is_retryable, set_retry_after


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.append(seconds)


def policy(sleeps: Sleeps, **kwargs: float) -> RetryPolicy:
    return RetryPolicy(
        sleep=sleeps,
        async_sleep=sleeps.asleep,
        random=lambda: 0.0,  # no jitter: exact waits
        **kwargs,  # type: ignore[arg-type]
    )


def failing(errors: list[BaseException], result: str = "ok") -> Callable[[], str]:
    calls = iter(errors)

    def fn() -> str:
        error = next(calls, None)
        if error is not None:
            raise error
        return result

    return fn


RETRIED = [
    ThrottledError("slow down"),
    ModelNotReadyError("loading"),
    ModelError("boom", status_code=500),
    ModelError("bad gateway", status_code=502),
    APIConnectionError("reset"),
    APITimeoutError("timed out"),
    APIStatusError("timeout", status_code=408),
    APIStatusError("conflict", status_code=409),
]
NEVER = [
    InvalidRequestError("bad"),
    NotFoundError("no such endpoint"),
    PermissionDeniedError("denied"),
    AuthenticationError("who?"),
    ModelError("container said 424", status_code=424),
    BudgetExceededError("over", budget="b", limit=1.0, spent=1.0),
    UnpricedError("no price"),
    ConfigurationError("bad argument"),
    ValueError("a bug"),
]


@pytest.mark.parametrize("error", RETRIED, ids=lambda e: type(e).__name__)
def test_transient_failures_are_retried(error: Exception) -> None:
    assert is_retryable(error)
    sleeps = Sleeps()
    assert policy(sleeps).call(failing([error, error])) == "ok"
    assert sleeps == [0.5, 1.0]


@pytest.mark.parametrize("error", NEVER, ids=lambda e: type(e).__name__)
def test_failures_that_cannot_succeed_are_never_retried(error: Exception) -> None:
    assert not is_retryable(error)
    sleeps = Sleeps()
    with pytest.raises(type(error)):
        policy(sleeps).call(failing([error]))
    assert sleeps == []


def test_gives_up_after_max_retries_and_raises_the_last_error() -> None:
    sleeps = Sleeps()
    errors: list[BaseException] = [ThrottledError(f"try {i}") for i in range(4)]
    with pytest.raises(ThrottledError, match="try 2"):
        policy(sleeps).call(failing(errors))
    assert sleeps == [0.5, 1.0]  # two retries: three attempts


def test_backoff_doubles_up_to_the_cap() -> None:
    sleeps = Sleeps()
    p = policy(sleeps, max_retries=6)
    assert [p.delay(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_jitter_takes_off_at_most_a_quarter() -> None:
    p = RetryPolicy(random=lambda: 0.999999)
    assert 0.375 <= p.delay(0) < 0.376
    assert RetryPolicy(random=lambda: 0.0).delay(0) == 0.5


def test_retry_after_is_honoured_when_reasonable() -> None:
    sleeps = Sleeps()
    error = ThrottledError("slow")
    set_retry_after(error, 3.0)
    assert policy(sleeps).call(failing([error])) == "ok"
    assert sleeps == [3.0]
    too_long = ThrottledError("slower")
    set_retry_after(too_long, 3600)
    assert policy(sleeps).delay(1, too_long) == 1.0  # ignored past 60 s, as openai-python


def test_zero_retries_means_one_attempt() -> None:
    sleeps = Sleeps()
    with pytest.raises(ThrottledError):
        policy(sleeps).with_max_retries(0).call(failing([ThrottledError("x")]))
    assert sleeps == []


def test_async_policy_retries_the_same_way() -> None:
    sleeps = Sleeps()
    attempts = []

    async def fn() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ModelNotReadyError("loading")
        return "ok"

    assert asyncio.run(policy(sleeps).acall(fn)) == "ok"
    assert sleeps == [0.5, 1.0]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2)
