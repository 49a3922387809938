"""SageMaker instance-hours: window cost, allocation to calls, idle, and cents that add up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gptoss_aws.costing import (
    InstanceTimeline,
    Segment,
    allocate,
    allocation_rows,
    largest_remainder,
)
from gptoss_aws.errors import ConfigurationError, UnpricedError
from gptoss_aws.pricing import InstancePrice, PriceBook
from gptoss_aws.types import CallRecord

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
AS_OF = T0.date()
PRICES = {
    "ml.p5.4xlarge": Decimal("7.912"),
    "ml.g4dn.xlarge": Decimal("0.7364"),
    "ml.m5.xlarge": Decimal("0.23"),
}


def lookup(instance_type: str, region: str) -> InstancePrice:
    if region != "us-east-1" or instance_type not in PRICES:
        raise UnpricedError(f"{instance_type} {region}")
    return InstancePrice(PRICES[instance_type], f"test {instance_type}", AS_OF)


def call(
    start: datetime,
    *,
    endpoint: str = "ep",
    prompt: int = 100,
    completion: int = 100,
    latency_ms: float | None = 1_000.0,
    variant: str | None = None,
    tags: dict[str, str] | None = None,
    backend: str = "sagemaker",
) -> CallRecord:
    return CallRecord.model_validate(
        {
            "backend": backend,
            "model": "gpt-oss-120b",
            "endpoint": endpoint,
            "variant": variant,
            "started_at": start,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "latency_ms": latency_ms,
            "status": "ok",
            "tags": tags or {},
        }
    )


def one_instance(endpoint: str = "ep", itype: str = "ml.p5.4xlarge") -> InstanceTimeline:
    return InstanceTimeline.declared(endpoint, "us-east-1", [(T0, T0 + HOUR, 1, itype)])


def test_an_idle_hour_is_one_idle_line_for_the_full_hourly_price() -> None:
    result = allocate(T0, T0 + HOUR, one_instance(), lookup, [])
    assert result.window_usd == Decimal("7.912")
    (line,) = result.lines
    assert (line.kind, line.usd, line.exact_usd) == ("idle", Decimal("7.912"), Decimal("7.912"))


def test_calls_share_the_window_by_tokens_and_idle_is_zero_by_default() -> None:
    calls = [
        call(T0 + timedelta(minutes=1), prompt=100, completion=200, tags={"team": "a"}),
        call(T0 + timedelta(minutes=2), prompt=300, completion=600, tags={"team": "b"}),
    ]
    result = allocate(T0, T0 + HOUR, one_instance(), lookup, calls, "tokens")
    a, b, idle = result.lines
    # 300 and 900 tokens: a quarter and three quarters of $7.912.
    assert (a.exact_usd, b.exact_usd) == (Decimal("1.978"), Decimal("5.934"))
    assert (a.usd, b.usd, idle.usd) == (Decimal("1.978"), Decimal("5.934"), Decimal("0"))
    assert a.tags == {"team": "a"}
    assert a.usd + b.usd + idle.usd == result.window_usd == Decimal("7.912")


def test_the_weight_can_be_output_tokens_or_latency() -> None:
    calls = [
        call(T0, prompt=1_000, completion=100, latency_ms=3_000),
        call(T0 + timedelta(seconds=5), prompt=0, completion=300, latency_ms=1_000),
    ]
    by_output = allocate(T0, T0 + HOUR, one_instance(), lookup, calls, "output_tokens")
    assert [line.weight for line in by_output.lines[:2]] == [Decimal(100), Decimal(300)]
    assert by_output.lines[1].usd == Decimal("5.934")
    by_latency = allocate(T0, T0 + HOUR, one_instance(), lookup, calls, "latency")
    assert by_latency.lines[0].usd == Decimal("5.934")


def test_calls_with_no_weight_leave_the_window_to_the_idle_line() -> None:
    calls = [call(T0, prompt=0, completion=0), call(T0, latency_ms=None)]
    result = allocate(T0, T0 + HOUR, one_instance(), lookup, calls[:1], "tokens")
    assert [line.usd for line in result.lines] == [Decimal("0"), Decimal("7.912")]
    by_latency = allocate(T0, T0 + HOUR, one_instance(), lookup, calls[1:], "latency")
    assert by_latency.idle_usd == Decimal("7.912")


def test_calls_outside_the_window_and_other_backends_are_left_out() -> None:
    calls = [
        call(T0 - timedelta(seconds=1)),
        call(T0 + HOUR),  # the window is [start, end)
        call(T0 + timedelta(minutes=5), backend="bedrock"),
        call(T0 + timedelta(minutes=6)),
    ]
    result = allocate(T0, T0 + HOUR, one_instance(), lookup, calls)
    assert [line.call_id for line in result.lines if line.kind == "call"] == [calls[3].id]


def test_idle_can_mean_time_with_no_call_in_flight() -> None:
    # One 36-second call in an hour on one instance: 1% of the time busy.
    calls = [call(T0 + timedelta(minutes=10), latency_ms=36_000)]
    result = allocate(T0, T0 + HOUR, one_instance(), lookup, calls, idle_basis="no_call_in_flight")
    busy, idle = result.lines
    assert busy.exact_usd == Decimal("0.07912")
    assert idle.exact_usd == Decimal("7.83288")
    assert (busy.usd, idle.usd) == (Decimal("0.07912"), Decimal("7.83288"))
    # LiteLLM's $/second x latency would say the same 0.08 and then forget the $7.83.


def test_instance_count_and_segments_change_the_window_cost() -> None:
    timeline = InstanceTimeline.declared(
        "ep",
        "us-east-1",
        [
            (T0, T0 + timedelta(minutes=30), 2, "ml.p5.4xlarge"),
            (T0 + timedelta(minutes=30), T0 + HOUR, 1, "ml.p5.4xlarge"),
            # A blue/green overlap: another type runs alongside for ten minutes.
            (T0 + timedelta(minutes=50), T0 + timedelta(minutes=60), 1, "ml.g4dn.xlarge"),
        ],
    )
    result = allocate(T0, T0 + HOUR, timeline, lookup, [])
    (window,) = result.endpoints
    assert window.instance_seconds == {
        "ml.p5.4xlarge": Decimal(5400),
        "ml.g4dn.xlarge": Decimal(600),
    }
    expected = Decimal("7.912") * Decimal("1.5") + Decimal("0.7364") / 6
    assert window.exact_usd == expected
    assert window.usd == expected.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    assert "ml.g4dn.xlarge: test ml.g4dn.xlarge" in window.price_source


def test_a_window_part_of_a_segment_is_prorated_to_the_microsecond() -> None:
    start = T0 + timedelta(minutes=15, microseconds=500_000)
    result = allocate(start, start + timedelta(minutes=30), one_instance(), lookup, [])
    assert result.endpoints[0].exact_usd == Decimal("7.912") / 2


def test_several_endpoints_are_allocated_separately_and_unknown_ones_reported() -> None:
    calls = [
        call(T0, endpoint="a"),
        call(T0, endpoint="b", completion=300),
        call(T0, endpoint="zzz"),
    ]
    result = allocate(
        T0, T0 + HOUR, [one_instance("a"), one_instance("b", "ml.m5.xlarge")], lookup, calls
    )
    by_endpoint = {e.endpoint: e.usd for e in result.endpoints}
    assert by_endpoint == {"a": Decimal("7.912"), "b": Decimal("0.23")}
    lines = {(line.endpoint, line.kind): line.usd for line in result.lines}
    assert lines[("a", "call")] == Decimal("7.912")
    assert lines[("b", "call")] == Decimal("0.23")
    assert result.unmatched_call_ids == (calls[2].id,)


def test_variants_of_one_endpoint_are_matched_by_name() -> None:
    blue = InstanceTimeline.declared(
        "ep", "us-east-1", [(T0, T0 + HOUR, 1, "ml.p5.4xlarge")], variant="blue"
    )
    green = InstanceTimeline.declared(
        "ep", "us-east-1", [(T0, T0 + HOUR, 1, "ml.m5.xlarge")], variant="green"
    )
    calls = [call(T0, variant="green"), call(T0, variant=None)]
    result = allocate(T0, T0 + HOUR, [blue, green], lookup, calls)
    green_calls = [ln for ln in result.lines if ln.variant == "green" and ln.kind == "call"]
    assert [ln.usd for ln in green_calls] == [Decimal("0.23")]
    # No variant on a two-variant endpoint: which instances served it is unknown.
    assert result.unmatched_call_ids == (calls[1].id,)


def test_unpriced_instances_raise_rather_than_cost_nothing() -> None:
    timeline = one_instance(itype="ml.c5.large")
    with pytest.raises(UnpricedError):
        allocate(T0, T0 + HOUR, timeline, lookup, [])
    # The price book gives the same answer, with the fixes spelled out.
    with pytest.raises(UnpricedError, match="prices refresh"):
        allocate(T0, T0 + HOUR, timeline, PriceBook.load().instance_price, [])


def test_rows_for_reports_and_a_calls_cost() -> None:
    calls = [call(T0, tags={"feature": "search"})]
    result = allocate(T0, T0 + HOUR, one_instance(), lookup, calls)
    rows = allocation_rows(result)
    assert [(r["kind"], r["call_id"], r["usd"], r["tags"]) for r in rows] == [
        ("call", calls[0].id, Decimal("7.912"), {"feature": "search"}),
        ("idle", None, Decimal("0"), {}),
    ]
    assert {"endpoint", "window_start", "window_end"} <= rows[0].keys()
    cost = result.cost_of(calls[0].id)
    assert (cost.usd, cost.basis) == (Decimal("7.912"), "instance_hours")
    with pytest.raises(KeyError):
        result.cost_of("nope")


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ((T0, T0, 1, "ml.m5.xlarge"), "before it starts"),
        ((T0, T0 + HOUR, -1, "ml.m5.xlarge"), "integer >= 0"),
        ((T0.replace(tzinfo=None), T0 + HOUR, 1, "ml.m5.xlarge"), "timezone-aware"),
        ((T0, T0 + HOUR, 1, ""), "instance type"),
    ],
)
def test_bad_segments_are_refused(
    segment: tuple[datetime, datetime, int, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        InstanceTimeline.declared("ep", "us-east-1", [segment])


def test_bad_windows_and_weights_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="after"):
        allocate(T0, T0, one_instance(), lookup, [])
    with pytest.raises(ConfigurationError, match="timezone"):
        allocate(T0.replace(tzinfo=None), T0 + HOUR, one_instance(), lookup, [])
    with pytest.raises(ConfigurationError, match="weight"):
        allocate(T0, T0 + HOUR, one_instance(), lookup, [call(T0)], "cost")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="same endpoint"):
        allocate(T0, T0 + HOUR, [one_instance(), one_instance()], lookup, [])


def test_largest_remainder_gives_the_missing_cents_to_the_largest_remainders() -> None:
    thirds = [Decimal(1) / 3] * 3
    assert largest_remainder(thirds, Decimal("1.00"), Decimal("0.01")) == [
        Decimal("0.34"),
        Decimal("0.33"),
        Decimal("0.33"),
    ]
    assert largest_remainder(
        [Decimal("0.004"), Decimal("0.006"), Decimal(0)], Decimal("0.01"), Decimal("0.01")
    ) == [
        Decimal("0.00"),
        Decimal("0.01"),
        Decimal("0.00"),
    ]


# ---- the invariant, for any timeline, calls and weights ---------------------------------

WINDOW_SECONDS = 7_200
segments_strategy = st.lists(
    st.tuples(
        st.integers(min_value=-1_800, max_value=WINDOW_SECONDS + 1_800),  # start offset, s
        st.integers(min_value=1, max_value=5_400),  # duration, s
        st.integers(min_value=0, max_value=6),  # instances
        st.sampled_from(sorted(PRICES)),
    ),
    min_size=0,
    max_size=6,
)
calls_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),  # "c" has no timeline
        st.integers(min_value=-600, max_value=WINDOW_SECONDS + 600),  # start offset, s
        st.integers(min_value=0, max_value=50_000),  # prompt tokens (0 allowed)
        st.integers(min_value=0, max_value=50_000),  # completion tokens
        st.one_of(st.none(), st.floats(min_value=0, max_value=600_000, allow_nan=False)),
    ),
    max_size=40,
)


def _exact_window_cost(segs: Sequence[tuple[int, int, int, str]]) -> Decimal:
    total = Decimal(0)
    for offset, duration, count, itype in segs:
        lo, hi = max(offset, 0), min(offset + duration, WINDOW_SECONDS)
        if hi > lo:
            total += Decimal(hi - lo) * count * PRICES[itype]
    return total / 3600


@settings(max_examples=150, deadline=None)
@given(
    segs_a=segments_strategy,
    segs_b=segments_strategy,
    raw_calls=calls_strategy,
    weight=st.sampled_from(["tokens", "output_tokens", "latency"]),
    idle_basis=st.sampled_from(["unattributed", "no_call_in_flight"]),
)
def test_allocations_plus_idle_equal_the_window_cost_to_the_cent(
    segs_a: list[tuple[int, int, int, str]],
    segs_b: list[tuple[int, int, int, str]],
    raw_calls: list[tuple[str, int, int, int, float | None]],
    weight: str,
    idle_basis: str,
) -> None:
    start, end = T0, T0 + timedelta(seconds=WINDOW_SECONDS)
    timelines = [
        InstanceTimeline.declared(
            name,
            "us-east-1",
            [
                (T0 + timedelta(seconds=o), T0 + timedelta(seconds=o + d), c, t)
                for o, d, c, t in segs
            ],
        )
        for name, segs in (("a", segs_a), ("b", segs_b))
    ]
    calls = [
        call(T0 + timedelta(seconds=o), endpoint=ep, prompt=p, completion=c, latency_ms=lat)
        for ep, o, p, c, lat in raw_calls
    ]
    result = allocate(start, end, timelines, lookup, calls, weight, idle_basis=idle_basis)  # type: ignore[arg-type]

    cent = Decimal("0.000001")  # the allocation quantum: finer than a cent
    for window, segs in zip(result.endpoints, (segs_a, segs_b), strict=True):
        exact = _exact_window_cost(segs)
        assert window.exact_usd == exact
        assert window.usd == exact.quantize(cent, rounding=ROUND_HALF_UP)
        lines = [ln for ln in result.lines if ln.endpoint == window.endpoint]
        assert sum(ln.usd for ln in lines) == window.usd  # the invariant
        assert all(ln.usd >= 0 and ln.usd == ln.usd.quantize(cent) for ln in lines)
        assert sum(1 for ln in lines if ln.kind == "idle") == 1
        assert abs(sum(ln.exact_usd for ln in lines) - exact) < Decimal("1e-20")
        call_lines = [ln for ln in lines if ln.kind == "call"]
        if sum(ln.weight for ln in call_lines) == 0:
            assert lines[-1].usd == window.usd  # nothing carries weight: all idle
        for ln in call_lines:
            if ln.weight == 0:
                assert ln.usd == 0
    in_window = {c.id for c in calls if start <= c.started_at < end}
    allocated = {ln.call_id for ln in result.lines if ln.kind == "call"}
    assert allocated | set(result.unmatched_call_ids) == in_window
    assert set(result.unmatched_call_ids) == {c.id for c in calls if c.endpoint == "c"} & in_window
    assert result.window_usd == sum(ln.usd for ln in result.lines)


def test_segments_keep_their_order_and_the_timeline_is_frozen() -> None:
    timeline = one_instance()
    assert isinstance(timeline.segments[0], Segment)
    with pytest.raises(AttributeError):
        timeline.endpoint = "other"  # type: ignore[misc]
