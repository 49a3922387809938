"""The glue between a client call and the ledger: price it, reserve it, settle it.

    call = tracker.begin(CallIntent(backend="bedrock", model="gpt-oss-120b", region=...,
                                    max_tokens=512, prompt_tokens_estimate=n))
    ... send the request ...
    cost = call.finish(usage)                    # or status="error" / "aborted"

``begin`` does everything that can refuse a call *before* it is sent: a hard budget that
cannot hold the call's worst case raises BudgetExceededError, and a hard USD budget that
must reserve a price we do not have raises UnpricedError; in both cases nothing is written.
A missing price alone never refuses a call: the call goes ahead, its row records the tokens
with the cost *pending* (never $0), and ``Ledger.price_pending`` (run by ``gptoss-aws prices
refresh``) prices it later at the price in force when it ran. Otherwise the ledger holds a
reservation from then on, so a process killed mid-call leaves a row that
``Ledger.reconcile`` turns into an aborted one.

How a call is costed follows its backend's declared cost basis
(``gptoss_aws.backends.registry.BackendCostBasis``); a backend name nobody registered is a
ConfigurationError, never costed as another backend:

- per token (``bedrock``): from the PriceBook (model, region, service tier), at the tier
  AWS reports having served the call at; exact cost at finish, or pending.
- caller-priced (``openai``, an OpenAI-compatible server): per token only if the caller
  gives a price (``CallIntent.price``); otherwise it is unpriced (no AWS price can fill it).
- instance-hours (``sagemaker``). ``cost_usd`` stays None at finish and reports allocate the
  endpoint's instance-hours over a window (``gptoss_aws.costing.allocation``); an instance
  price missing at that point leaves the window pending with its fill command. Token budgets
  cover SageMaker calls; a hard USD budget that would cover one raises ConfigurationError at
  ``begin`` (there is no per-call price to reserve), a soft one does not count it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, Protocol

from gptoss_aws._token_estimates import reservation_bounds
from gptoss_aws.backends.registry import (
    BackendCostBasis,
    backend_names,
    cost_basis_of,
    title_of,
    unknown_backend_message,
)
from gptoss_aws.budgets import Budget, check_hard_usd_budgets, make_budgets
from gptoss_aws.errors import (
    CallAlreadyFinishedError,
    ConfigurationError,
    UnpricedError,
)
from gptoss_aws.ledger.base import utcnow
from gptoss_aws.pricing.records import TOKENS_PER_MILLION, InstancePrice, TokenPrice
from gptoss_aws.pricing.regions import DEFAULT_TIER, SERVICE_TIERS, canonical_tier
from gptoss_aws.types import Backend, CallRecord, Cost, CostBasis, Usage

if TYPE_CHECKING:
    from gptoss_aws.ledger.base import Ledger

logger = logging.getLogger(__name__)

# Reservations older than this are reconciled as stale the first time a tracker begins a
# call (reservations of dead processes on this host are reconciled whatever their age). Six
# hours is far beyond any single gpt-oss call: 131,072 output tokens at a slow 10 tok/s
# take 3.6 h.
DEFAULT_STALE_AFTER = timedelta(hours=6)


class PriceLookup(Protocol):
    """What the tracker needs from a price book (``gptoss_aws.pricing.PriceBook`` fits);
    both methods raise UnpricedError when they have no price."""

    def token_price(self, model: str, region: str, tier: str | None = None) -> TokenPrice: ...

    def instance_price(self, instance_type: str, region: str) -> InstancePrice: ...


# Called with the settled row after every finish (see gptoss_aws.telemetry).
Exporter = Callable[[CallRecord], None]
FinishStatus = Literal["ok", "error", "aborted"]


@dataclass(frozen=True)
class CallIntent:
    """Everything known about a call before it is sent.

    ``max_tokens`` None means the server may generate up to the model's context window;
    the reservation then assumes it does (131,072 tokens for gpt-oss), since the true
    remaining context depends on a prompt size we only bound from above. Pass max_tokens to
    reserve less. ``price`` is a per-token price the caller sets, for OpenAI-compatible
    servers (Bedrock prices come from the price book, SageMaker is billed by instance).
    """

    backend: Backend
    model: str
    model_id: str | None = None
    endpoint: str | None = None
    variant: str | None = None
    inference_component: str | None = None
    instance_type: str | None = None
    region: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False
    max_tokens: int | None = None
    prompt_tokens_estimate: int = 0
    price: TokenPrice | None = None
    service_tier: str | None = None  # the Bedrock tier asked for (None: AWS's default)
    project: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.service_tier is not None and self.service_tier not in SERVICE_TIERS:
            problems.append(
                f"service_tier must be one of {list(SERVICE_TIERS)}, not {self.service_tier!r}"
            )
        if self.backend not in backend_names():
            problems.append(unknown_backend_message(self.backend))
        if not isinstance(self.model, str) or not self.model:
            problems.append("model must be a non-empty string")
        if self.max_tokens is not None and (
            isinstance(self.max_tokens, bool)
            or not isinstance(self.max_tokens, int)
            or self.max_tokens < 1
        ):
            problems.append(
                f"max_tokens must be a positive integer or None, got {self.max_tokens!r}"
            )
        if (
            isinstance(self.prompt_tokens_estimate, bool)
            or not isinstance(self.prompt_tokens_estimate, int)
            or self.prompt_tokens_estimate < 0
        ):
            estimate = self.prompt_tokens_estimate
            problems.append(f"prompt_tokens_estimate must be an integer >= 0, not {estimate!r}")
        if not isinstance(self.tags, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, str) for k, v in self.tags.items()
        ):
            problems.append(f"tags must map non-empty strings to strings, got {self.tags!r}")
        if problems:
            raise ConfigurationError("bad call: " + "; ".join(problems))


@dataclass(frozen=True)
class _Pricing:
    basis: CostBasis
    token_price: TokenPrice | None = None
    source: str | None = None
    missing: UnpricedError | None = None  # why the cost is pending, and its fix


class Tracker:
    """Prices, reserves and records calls in a ledger, enforcing budgets.

    ``ledger`` defaults to ``open_ledger()``; ``prices`` to ``PriceBook.load()`` (loaded on
    the first call that needs it). ``exporters`` are called with each settled row; one that
    raises is logged and never fails the call.
    """

    def __init__(
        self,
        ledger: Ledger | None = None,
        prices: PriceLookup | None = None,
        budgets: Sequence[Budget] = (),
        allow_unpriced: bool = False,
        exporters: Sequence[Exporter] = (),
        *,
        reconcile_stale_after: timedelta | None = DEFAULT_STALE_AFTER,
    ) -> None:
        if ledger is None:
            from gptoss_aws.ledger import open_ledger

            ledger = open_ledger()
        self.ledger = ledger
        self._prices = prices
        self.budgets: tuple[Budget, ...] = tuple(make_budgets(budgets))
        self.allow_unpriced = allow_unpriced
        self.exporters: tuple[Exporter, ...] = tuple(exporters)
        self._reconcile_after = reconcile_stale_after
        self._lock = threading.Lock()

    @property
    def prices(self) -> PriceLookup:
        if self._prices is None:
            from gptoss_aws.pricing import PriceBook

            self._prices = PriceBook.load()
        return self._prices

    def _reconcile_once(self) -> None:
        with self._lock:
            after, self._reconcile_after = self._reconcile_after, None
        if after is not None:
            aborted = self.ledger.reconcile(after)
            if aborted:
                logger.warning(
                    "reconciled %d reservation(s) left by dead or stale calls as aborted",
                    len(aborted),
                )

    def token_pricing(self, model: str, region: str, tier: str | None) -> _Pricing:
        """Per-token pricing of a Bedrock call at ``tier``, or pending with the reason."""
        try:
            if canonical_tier(tier) == DEFAULT_TIER:
                # Two arguments for the Standard tier: price lookups written before tiers
                # existed (PriceLookup implementations of users and tests) keep working.
                price = self.prices.token_price(model, region)
            else:
                price = self.prices.token_price(model, region, tier)
        except UnpricedError as missing:
            return _Pricing("pending", missing=missing)
        return _Pricing("per_token", price, price.describe())

    def _pricing(self, intent: CallIntent) -> _Pricing:
        basis = cost_basis_of(intent.backend)
        try:
            if basis is BackendCostBasis.PER_TOKEN:
                if not intent.region:
                    raise ConfigurationError(
                        f"a {title_of(intent.backend)} call needs its region to be priced"
                    )
                return self.token_pricing(intent.model, intent.region, intent.service_tier)
            if basis is BackendCostBasis.CALLER_PRICED:
                if intent.price is None:
                    raise UnpricedError(
                        f"no price for {intent.model!r} on the {title_of(intent.backend)} "
                        f"{intent.endpoint or ''}: pass a per-token price, or opt in to "
                        "recording the call as unpriced (allow_unpriced=True)"
                    )
                return _Pricing("per_token", intent.price, intent.price.describe())
            # Instance-hours (SageMaker): the call's share is allocated later, from the
            # endpoint's timeline and the instance price then in the book; a price missing now
            # only means the report will say pending until it is filled. Nothing to refuse.
            if not intent.instance_type or not intent.region:
                return _Pricing("instance_hours")
            try:
                instance = self.prices.instance_price(intent.instance_type, intent.region)
            except UnpricedError as missing:
                return _Pricing("instance_hours", missing=missing)
            return _Pricing("instance_hours", None, instance.describe())
        except UnpricedError:
            if not self.allow_unpriced:
                raise
            return _Pricing("unpriced")

    def begin(self, intent: CallIntent) -> TrackedCall:
        """Price and reserve the call, or refuse it (UnpricedError, BudgetExceededError,
        ConfigurationError) with nothing sent and nothing written."""
        pricing = self._pricing(intent)
        prompt_bound, completion_bound, tokens_bound = _worst_case_tokens(intent)
        reserved_usd: Decimal | None = None
        if pricing.token_price is not None:
            reserved_usd = _worst_case_usd(pricing.token_price, prompt_bound, completion_bound)
            if basis_is_tiered(intent.backend) and intent.service_tier not in (None, DEFAULT_TIER):
                # The call is priced at the tier AWS reports having served it at, which need
                # not be the one asked for (the response carries it: ConverseResponse
                # serviceTier), so the reservation covers the dearer of the requested tier
                # and standard when both are known.
                assert intent.region is not None
                standard = self.token_pricing(intent.model, intent.region, DEFAULT_TIER)
                if standard.token_price is not None:
                    reserved_usd = max(
                        reserved_usd,
                        _worst_case_usd(standard.token_price, prompt_bound, completion_bound),
                    )
        record = CallRecord(
            backend=intent.backend,
            model=intent.model,
            model_id=intent.model_id,
            endpoint=intent.endpoint,
            variant=intent.variant,
            inference_component=intent.inference_component,
            instance_type=intent.instance_type,
            region=intent.region,
            tags=dict(intent.tags),
            stream=intent.stream,
            status="reserved",
            cost_basis=pricing.basis,
            price_source=pricing.source,
            reserved_usd=reserved_usd,
            reserved_tokens=tokens_bound,
            process_id=os.getpid(),
            service_tier_requested=intent.service_tier,
            project=intent.project,
        )
        check_hard_usd_budgets(self.budgets, record, pricing.missing)
        self._reconcile_once()
        reserved = self.ledger.reserve(record, self.budgets)
        return TrackedCall(self, reserved, pricing)


def basis_is_tiered(backend: str) -> bool:
    """Per-token AWS prices come per service tier; the call is priced at the tier AWS
    reports having served it at."""
    return cost_basis_of(backend) is BackendCostBasis.PER_TOKEN


def _worst_case_usd(price: TokenPrice, prompt: int, completion: int) -> Decimal:
    return (
        Decimal(prompt) * price.input_per_1m + Decimal(completion) * price.output_per_1m
    ) / TOKENS_PER_MILLION


def _worst_case_tokens(intent: CallIntent) -> tuple[int, int, int]:
    """(prompt, completion, total) bounds for the reservation (see ``reservation_bounds``)."""
    return reservation_bounds(intent.model, intent.max_tokens, intent.prompt_tokens_estimate)


class TrackedCall:
    """A call in flight. ``finish`` exactly once; a call dropped without ``finish`` (its
    process died, or the object was lost) stays a reservation until ``reconcile``."""

    def __init__(self, tracker: Tracker, record: CallRecord, pricing: _Pricing) -> None:
        self.tracker = tracker
        self.record = record
        self._pricing = pricing
        self._started = time.perf_counter()
        self._lock = threading.Lock()
        self._finished = False

    @property
    def call_id(self) -> str:
        return self.record.id

    @property
    def finished(self) -> bool:
        return self._finished

    def finish(
        self,
        usage: Usage,
        *,
        status: FinishStatus = "ok",
        error_kind: str | None = None,
        ttft_ms: float | None = None,
        usage_source: Literal["reported", "estimated"] = "reported",
        latency_ms: float | None = None,
        service_tier: str | None = None,
    ) -> Cost:
        """Settle the call with what it used; return its cost (``usd`` None for SageMaker
        until a report allocates it, for pending and for unpriced calls).

        ``service_tier`` is the Bedrock tier AWS reports having served the call at (also
        read from ``usage.service_tier``, where the backends put it so streams carry it); the
        call is priced at that tier. Without a report, the tier asked for is assumed."""
        with self._lock:
            if self._finished:
                raise CallAlreadyFinishedError(f"call {self.call_id} was already finished")
            if status not in ("ok", "error", "aborted"):
                raise ConfigurationError(f"status must be ok, error or aborted, not {status!r}")
            if latency_ms is None:
                latency_ms = (time.perf_counter() - self._started) * 1000.0
            tier = self._served_tier(usage, service_tier)
            cost = self._cost(usage, tier)
            final = self.record.model_copy(
                update={
                    "ended_at": utcnow(),
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                    "reasoning_tokens": usage.reasoning_tokens,
                    "usage_source": usage_source,
                    "latency_ms": latency_ms,
                    "ttft_ms": ttft_ms,
                    "status": status,
                    "error_kind": error_kind,
                    "cost_usd": cost.usd,
                    "cost_basis": cost.basis,
                    "price_source": cost.price_source,
                    "service_tier": tier,
                }
            )
            self.tracker.ledger.settle(final)
            self._finished = True
            self.record = final
        for export in self.tracker.exporters:
            try:
                export(final)
            except Exception:
                logger.exception("exporter %r failed for call %s", export, final.id)
        if final.reasoning_tokens == 0 and final.completion_tokens and status == "ok":
            logger.debug("call %s reported no reasoning tokens", final.id)
        return cost

    def _served_tier(self, usage: Usage, reported: str | None) -> str | None:
        if not basis_is_tiered(self.record.backend):
            return None
        reported = reported or (usage.model_extra or {}).get("service_tier")
        return canonical_tier(reported or self.record.service_tier_requested)

    def _cost(self, usage: Usage, tier: str | None) -> Cost:
        pricing = self._pricing
        if (
            basis_is_tiered(self.record.backend)
            and tier is not None
            and tier != canonical_tier(self.record.service_tier_requested)
            and self.record.region is not None
        ):
            # Served at another tier than asked: that tier's price, or pending.
            pricing = self.tracker.token_pricing(self.record.model, self.record.region, tier)
        if pricing.token_price is not None:
            from gptoss_aws.costing.per_token import token_cost

            return token_cost(usage, pricing.token_price)
        if pricing.basis == "pending":
            for name in ("prompt_tokens", "completion_tokens", "reasoning_tokens"):
                if getattr(usage, name) < 0:
                    raise ConfigurationError(f"usage.{name} is negative ({getattr(usage, name)})")
            fix = pricing.missing.fix if pricing.missing is not None else None
            fix = fix or f"gptoss-aws prices refresh --region {self.record.region}"
            return Cost(usd=None, basis="pending", fix=fix)
        for name in ("prompt_tokens", "completion_tokens", "reasoning_tokens"):
            if getattr(usage, name) < 0:
                raise ConfigurationError(f"usage.{name} is negative ({getattr(usage, name)})")
        return Cost(usd=None, basis=self._pricing.basis, price_source=self._pricing.source)

    def __repr__(self) -> str:
        state = self.record.status if self._finished else "in flight"
        return f"<TrackedCall {self.call_id} {self.record.backend}/{self.record.model} {state}>"


_DEFAULT_TRACKERS: dict[tuple[str | None, str | None], Tracker] = {}
_DEFAULT_LOCK = threading.Lock()


def default_tracker() -> Tracker:
    """The tracker clients use unless told otherwise: the default ledger (``$GPTOSS_AWS_LEDGER``
    or ``ledger.sqlite3`` in the data directory) and the bundled price book with the user's
    refreshed cache. One per ledger location per process, so threads share its lock."""
    key = (os.environ.get("GPTOSS_AWS_LEDGER"), os.environ.get("GPTOSS_AWS_HOME"))
    with _DEFAULT_LOCK:
        tracker = _DEFAULT_TRACKERS.get(key)
        if tracker is None:
            tracker = _DEFAULT_TRACKERS[key] = Tracker()
        return tracker


class AutoTracker:
    """Stands in for ``default_tracker()`` until the first call, so creating a client opens
    no database and reads no price file."""

    def begin(self, intent: CallIntent) -> TrackedCall:
        return default_tracker().begin(intent)

    def __repr__(self) -> str:
        return "AutoTracker(default ledger and price book)"
