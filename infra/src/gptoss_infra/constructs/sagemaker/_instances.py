"""What the constructs need to know about an instance type, read from the shared table.

The facts package (`gptoss_facts.instances`) owns the table of SageMaker GPU instances with their
sources; the constructs read it so the facts are written once. Explicit props win, and a
type the table does not list needs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptoss_facts.instances import get_instance_type


@dataclass(frozen=True)
class InstanceFacts:
    """Facts for one instance type; None means unknown."""

    has_local_nvme: bool | None = None
    gpu_count: int | None = None


def instance_facts(instance_type: str) -> InstanceFacts:
    """Local NVMe and GPU count from the shared table; all None for a type it does not list."""
    try:
        row = get_instance_type(instance_type)
    except KeyError:
        return InstanceFacts()
    return InstanceFacts(has_local_nvme=row.local_nvme, gpu_count=row.gpu_count)
