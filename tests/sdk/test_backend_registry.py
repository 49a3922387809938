"""Backends describe themselves; everything that dispatches on a backend name asks the
registry, and a name nobody registered is a clear error, never a silent SageMaker."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Self

import pytest
from test_tracking import FakePrices

from gptoss_aws._cli_commands import costs
from gptoss_aws.backends import registry
from gptoss_aws.backends._request import ChatRequest
from gptoss_aws.backends.base import BackendBase, BackendResult, ChunkStream, Target
from gptoss_aws.backends.registry import BackendCostBasis
from gptoss_aws.budgets import Budget
from gptoss_aws.errors import ConfigurationError, UnpricedError
from gptoss_aws.ledger import SQLiteLedger
from gptoss_aws.pricing.records import TokenPrice
from gptoss_aws.telemetry import otel_attributes
from gptoss_aws.tracking import CallIntent, Tracker
from gptoss_aws.types import CallRecord, Usage


def test_the_backends_declare_name_cost_basis_and_telemetry_provider() -> None:
    described = {
        cls.name: (cls.cost_basis, cls.telemetry_provider) for cls in registry.backend_classes()
    }
    assert described == {
        "bedrock": (BackendCostBasis.PER_TOKEN, "aws.bedrock"),
        # Bedrock's OpenAI-compatible endpoints: billed per token as Bedrock.
        "bedrock_mantle": (BackendCostBasis.PER_TOKEN, "aws.bedrock"),
        "bedrock_openai": (BackendCostBasis.PER_TOKEN, "aws.bedrock"),
        "openai": (BackendCostBasis.CALLER_PRICED, "openai"),
        "sagemaker": (BackendCostBasis.INSTANCE_HOURS, "aws.sagemaker"),
        # SageMaker's OpenAI route: a share of the same endpoint's instance-hours.
        "sagemaker_openai": (BackendCostBasis.INSTANCE_HOURS, "aws.sagemaker"),
    }
    assert registry.backend_names() == (
        "bedrock",
        "bedrock_mantle",
        "bedrock_openai",
        "openai",
        "sagemaker",
        "sagemaker_openai",
    )


def test_an_unknown_backend_is_an_error_naming_the_known_ones() -> None:
    known = (
        "the known backends are bedrock, bedrock_mantle, bedrock_openai, openai, sagemaker, "
        "sagemaker_openai"
    )
    with pytest.raises(ConfigurationError, match=f"unknown backend 'vertex': {known}"):
        registry.backend_class("vertex")
    with pytest.raises(ConfigurationError, match=known):
        CallIntent(backend="vertex", model="gpt-oss-120b")
    with pytest.raises(ConfigurationError, match=known):
        Budget(name="b", limit=Decimal(1), backend="vertex")
    with pytest.raises(ValueError, match=known):
        CallRecord(backend="vertex", model="gpt-oss-120b")
    parser = argparse.ArgumentParser()
    costs.register(parser.add_subparsers())
    with pytest.raises(SystemExit):
        parser.parse_args(["costs", "--backend", "vertex"])


class EchoBackend(BackendBase):
    """A new backend as a user would write it: one class, nothing else edited."""

    name = "echo-test"
    cost_basis = BackendCostBasis.CALLER_PRICED
    telemetry_provider = "echo"
    title = "echo server"
    cli_flag, cli_metavar, cli_help = "--echo-test", "URL", "an echo server (test)"
    timeout = 1.0

    @classmethod
    def from_cli(cls, value: str, args: argparse.Namespace) -> EchoBackend:
        backend = cls()
        backend.timeout = args.timeout
        return backend

    def target(self) -> Target:
        return Target(backend=self.name, model="gpt-oss-120b", endpoint="echo://")

    def complete(self, request: ChatRequest) -> BackendResult:
        raise NotImplementedError

    def open_stream(self, request: ChatRequest) -> ChunkStream:
        raise NotImplementedError

    def with_timeout(self, timeout: float) -> Self:
        return self


@pytest.fixture
def echo_registered() -> Iterator[None]:
    # Defining EchoBackend registered it; keep it out of the other tests' registry.
    registry._REGISTRY["echo-test"] = EchoBackend
    yield
    registry._REGISTRY.pop("echo-test", None)


@pytest.fixture(autouse=True)
def _echo_unregistered_by_default() -> Iterator[None]:
    registry._REGISTRY.pop("echo-test", None)
    yield
    registry._REGISTRY.pop("echo-test", None)


@pytest.mark.usefixtures("echo_registered")
def test_a_new_backend_class_is_tracked_budgeted_and_exported_by_its_declarations(
    tmp_path: Path,
) -> None:
    assert "echo-test" in registry.backend_names()
    ledger = SQLiteLedger(tmp_path / "l.sqlite3")
    tracker = Tracker(ledger=ledger, prices=FakePrices())
    intent = CallIntent(backend="echo-test", model="gpt-oss-120b", max_tokens=10)
    with pytest.raises(UnpricedError, match="on the echo server"):
        tracker.begin(intent)
    price = TokenPrice(Decimal(1), Decimal(2), "test", date(2026, 11, 1))
    call = tracker.begin(
        CallIntent(backend="echo-test", model="gpt-oss-120b", max_tokens=10, price=price)
    )
    cost = call.finish(Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000))
    assert cost.usd == Decimal(3)
    assert call.record.service_tier is None  # no AWS tier for a caller-priced backend
    assert otel_attributes(call.record)["gen_ai.provider.name"] == "echo"
    Budget(name="echo", limit=Decimal(1), backend="echo-test")
    ledger.close()


def test_a_backend_must_declare_its_cost_basis_as_the_enum() -> None:
    with pytest.raises(TypeError, match="cost_basis must be a BackendCostBasis"):

        class Bad(EchoBackend):
            name = "bad-test"
            cost_basis = "per_token"  # type: ignore[assignment]

    assert "bad-test" not in registry.backend_names()


@pytest.mark.usefixtures("echo_registered")
def test_a_new_backend_class_gets_its_chat_flag_and_a_client_without_other_edits() -> None:
    from gptoss_aws._cli_commands import chat

    parser = argparse.ArgumentParser()
    chat.register(parser.add_subparsers())
    args = parser.parse_args(["chat", "--echo-test", "echo://", "--timeout", "7", "hi"])
    client = chat.build_client(args, None)
    assert isinstance(client.backend, EchoBackend)
    assert client.timeout == 7
    with pytest.raises(SystemExit):
        parser.parse_args(["chat", "--echo-test", "x", "--bedrock", "gpt-oss-120b", "hi"])


def test_a_backend_must_declare_how_it_is_costed_and_named() -> None:
    with pytest.raises(TypeError, match="must declare telemetry_provider"):

        class Bare(BackendBase):
            name = "bare-test"
            cost_basis = BackendCostBasis.PER_TOKEN

    assert "bare-test" not in registry.backend_names()
