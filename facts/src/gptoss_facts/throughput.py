"""Published gpt-oss throughput to compare with: the advisor's default capacity of an
instance, and the reference lines of the GPU benchmark (inference_container/bench).

These are batched throughput at high concurrency from third parties: an upper anchor,
not a promise. Each names the page it was read from and when.
"""

from __future__ import annotations

from dataclasses import dataclass

_GPUSTACK_120B = (
    "gpustack performance lab, gpt-oss-120b/h100 "
    "(docs.gpustack.ai/latest/performance-lab/gpt-oss-120b/h100; read 2026-12-02)"
)
_GPUSTACK_20B = (
    "gpustack performance lab, gpt-oss-20b/h100 "
    "(docs.gpustack.ai/latest/performance-lab/gpt-oss-20b/h100; read 2026-12-02)"
)


@dataclass(frozen=True)
class ThroughputAnchor:
    """Output tokens per second a published run sustained, and under which conditions."""

    model: str
    hardware: str
    conditions: str
    output_tok_s: float
    source: str
    # The SageMaker instance type that carries exactly this hardware, when there is one.
    instance_type: str | None = None


THROUGHPUT_ANCHORS: tuple[ThroughputAnchor, ...] = (
    ThroughputAnchor(
        "gpt-oss-120b",
        "1x H100",
        "vLLM 0.10.2 TP1, max-model-len 32768, async scheduling, ShareGPT 1000 prompts",
        2943.0,  # 2,942.57 output tok/s, section "2. Async scheduling in vLLM"
        _GPUSTACK_120B,
        instance_type="ml.p5.4xlarge",  # one H100 80 GB (EC2 accelerated computing specs)
    ),
    ThroughputAnchor(
        "gpt-oss-120b",
        "2x H100 TP2",
        "vLLM 0.10.2 TP2, max-model-len 32768, async scheduling, ShareGPT 1000 prompts",
        7649.0,  # 7,648.67 output tok/s, section "3. Parallelism in vLLM"
        _GPUSTACK_120B,
    ),
    ThroughputAnchor(
        "gpt-oss-120b",
        "1x H100",
        "concurrency 1-4, aggregate peak",
        511.0,
        "millstoneai inference benchmark (third-party; not re-read)",
    ),
    ThroughputAnchor(
        "gpt-oss-20b",
        "1x H100",
        "vLLM v0.11.0 async scheduling, ShareGPT 1000 prompts",
        9064.0,  # 9,064.40 output tok/s, section "2. Async scheduling in vLLM"
        _GPUSTACK_20B,
        instance_type="ml.p5.4xlarge",
    ),
)


def instance_anchor(model: str, instance_type: str) -> ThroughputAnchor | None:
    """The published figure for one model on one SageMaker instance type, if any."""
    for anchor in THROUGHPUT_ANCHORS:
        if anchor.model == model and anchor.instance_type == instance_type:
            return anchor
    return None
