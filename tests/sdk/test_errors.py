"""Every exception is a GptOssError defined in errors.py, and openai-python's names work."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import gptoss_aws
from gptoss_aws import errors
from gptoss_aws.backends._http_errors import error_for_status


def _modules() -> list[str]:
    names = ["gptoss_aws"]
    for info in pkgutil.walk_packages(gptoss_aws.__path__, "gptoss_aws."):
        names.append(info.name)
    return names


def test_every_exception_class_lives_in_errors_and_is_a_gptoss_error() -> None:
    strays = []
    for name in _modules():
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional extra (pandas, matplotlib) is absent
            continue
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == name:
                strays.append(f"{name}.{obj.__name__}")
    assert strays == [name for name in strays if name.startswith("gptoss_aws.errors.")]
    for _, obj in inspect.getmembers(errors, inspect.isclass):
        if issubclass(obj, BaseException) and obj.__module__ == "gptoss_aws.errors":
            assert issubclass(obj, errors.GptOssError), obj


@pytest.mark.parametrize(
    ("status", "openai_name"),
    [
        (400, "BadRequestError"),
        (401, "AuthenticationError"),
        (403, "PermissionDeniedError"),
        (404, "NotFoundError"),
        (409, "ConflictError"),
        (422, "UnprocessableEntityError"),
        (429, "RateLimitError"),
        (500, "InternalServerError"),
        (502, "InternalServerError"),
        (503, "InternalServerError"),
    ],
)
def test_except_clauses_written_for_openai_python_catch_the_same_statuses(
    status: int, openai_name: str
) -> None:
    exc = error_for_status(status, "boom", backend="openai")
    with pytest.raises(getattr(errors, openai_name)):
        raise exc
    with pytest.raises(errors.APIStatusError):
        raise exc
    with pytest.raises(errors.APIError):
        raise exc
    with pytest.raises(errors.OpenAIError):
        raise exc
    assert exc.status_code == status


def test_the_old_names_still_catch_what_they_caught() -> None:
    assert isinstance(error_for_status(500, "x", backend="openai"), errors.ModelError)
    assert isinstance(error_for_status(503, "x", backend="openai"), errors.ModelNotReadyError)
    assert not isinstance(error_for_status(503, "x", backend="openai"), errors.ModelError)
    assert isinstance(error_for_status(422, "x", backend="openai"), errors.InvalidRequestError)
    assert isinstance(error_for_status(429, "x", backend="openai"), errors.ThrottledError)
    assert errors.RateLimitError is errors.ThrottledError
    assert errors.BadRequestError is errors.InvalidRequestError
    timeout = errors.APITimeoutError("t", backend="openai")
    assert isinstance(timeout, errors.APIConnectionError)


def test_the_openai_names_are_exported_at_the_top() -> None:
    for name in (
        "APIConnectionError",
        "APIError",
        "APIStatusError",
        "APITimeoutError",
        "AuthenticationError",
        "BadRequestError",
        "ConflictError",
        "InternalServerError",
        "NotFoundError",
        "PermissionDeniedError",
        "RateLimitError",
        "UnprocessableEntityError",
    ):
        assert getattr(gptoss_aws, name) is getattr(errors, name)


def test_invalid_configuration_error_lists_every_problem() -> None:
    exc = errors.InvalidConfigurationError("env/dev.toml", ["region: unknown", "model: typo"])
    assert str(exc) == "2 problems in env/dev.toml:\n  - region: unknown\n  - model: typo"
    assert (exc.source, exc.problems) == ("env/dev.toml", ["region: unknown", "model: typo"])
    assert isinstance(exc, errors.ConfigurationError)
    assert isinstance(exc, ValueError)
    assert str(errors.InvalidConfigurationError("x", ["one"])).startswith("1 problem in x:")
