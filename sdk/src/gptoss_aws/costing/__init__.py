"""What calls cost: per-token prices, SageMaker instance-hour allocation, and the advisor."""

from gptoss_aws.costing.advisor import THROUGHPUT_ANCHORS, Advice, Throughput, advise
from gptoss_aws.costing.allocation import (
    Allocation,
    AllocationLine,
    EndpointWindow,
    allocate,
    allocation_rows,
    largest_remainder,
)
from gptoss_aws.costing.capacity import InstanceTimeline, Segment, timelines_from_endpoint
from gptoss_aws.costing.per_token import token_cost, usage_of, usd_text

__all__ = [
    "THROUGHPUT_ANCHORS",
    "Advice",
    "Allocation",
    "AllocationLine",
    "EndpointWindow",
    "InstanceTimeline",
    "Segment",
    "Throughput",
    "advise",
    "allocate",
    "allocation_rows",
    "largest_remainder",
    "timelines_from_endpoint",
    "token_cost",
    "usage_of",
    "usd_text",
]
