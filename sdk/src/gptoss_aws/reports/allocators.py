"""Allocators: how a report gives SageMaker calls their share of an endpoint's
instance-hours, from declared timelines or from what AWS says the endpoint ran."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from gptoss_aws.errors import ConfigurationError
from gptoss_aws.types import CallRecord

if TYPE_CHECKING:
    from gptoss_aws.costing.allocation import Allocation, IdleBasis
    from gptoss_aws.costing.capacity import InstanceTimeline
    from gptoss_aws.pricing.records import InstancePrice

logger = logging.getLogger(__name__)

AllocateBy = Literal["tokens", "output_tokens", "latency"]
# (SageMaker calls in the window, window start, window end, weight) -> Allocation.
Allocator = Callable[[Sequence[CallRecord], datetime, datetime, AllocateBy], "Allocation"]


def _in_force_at(start: datetime) -> Callable[[str, str], InstancePrice]:
    """The default price lookup of a window: the book's hourly price in force when the
    window starts (a price applies from its as_of date), so a later price change does not
    reprice past windows."""
    from gptoss_aws.pricing import PriceBook

    book = PriceBook.load()
    return lambda instance_type, region: book.instance_price(instance_type, region, at=start)


def timeline_allocator(
    timelines: Sequence[InstanceTimeline],
    price_lookup: Callable[[str, str], InstancePrice] | None = None,
    *,
    idle_basis: IdleBasis = "unattributed",
) -> Allocator:
    """An allocator over known instance timelines (declared, or from
    ``costing.capacity.timelines_from_endpoint``), priced by ``price_lookup`` (default: the
    price book's hourly price in force when the window starts)."""
    from gptoss_aws.costing.allocation import allocate

    def run(
        calls: Sequence[CallRecord], start: datetime, end: datetime, weight: AllocateBy
    ) -> Allocation:
        lookup = price_lookup or _in_force_at(start)
        return allocate(
            start, end, timelines, lookup, calls, weight, idle_basis=idle_basis,
            missing_price="pending",
        )  # fmt: skip

    return run


def aws_allocator(
    price_lookup: Callable[[str, str], InstancePrice] | None = None,
    *,
    idle_basis: IdleBasis = "unattributed",
    session: Any | None = None,
    endpoints: Sequence[tuple[str, str]] = (),
) -> Allocator:
    """An allocator that reads each endpoint's instance timeline from AWS in the calls'
    regions (``costing.capacity.timelines_from_endpoint``: measured from DescribeEndpoint and
    Application Auto Scaling activities, or estimated from CloudWatch as a labelled
    fallback). ``endpoints`` ((name, region) pairs) are read even when the window holds none
    of their calls, so their idle time is in the report. An endpoint that cannot be
    described (deleted, no permission) is logged and its calls stay pending allocation."""
    from gptoss_aws.costing.allocation import allocate
    from gptoss_aws.costing.capacity import timelines_from_endpoint

    def run(
        calls: Sequence[CallRecord], start: datetime, end: datetime, weight: AllocateBy
    ) -> Allocation:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        factory = session or boto3.session.Session()
        timelines: list[InstanceTimeline] = []
        named = {(c.endpoint, c.region) for c in calls if c.endpoint} | set(endpoints)
        for endpoint, region in sorted(named, key=str):
            assert endpoint is not None  # filtered above
            try:
                timelines += timelines_from_endpoint(
                    endpoint,
                    start,
                    end,
                    sagemaker_client=factory.client("sagemaker", region_name=region),
                    cloudwatch_client=factory.client("cloudwatch", region_name=region),
                    autoscaling_client=factory.client(
                        "application-autoscaling", region_name=region
                    ),
                )
            except (ClientError, BotoCoreError, ConfigurationError) as exc:
                logger.warning("cannot read the instances of endpoint %s: %s", endpoint, exc)
        lookup = price_lookup or _in_force_at(start)
        return allocate(
            start, end, timelines, lookup, calls, weight, idle_basis=idle_basis,
            missing_price="pending",
        )  # fmt: skip

    return run
