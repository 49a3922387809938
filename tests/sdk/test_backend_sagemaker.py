"""The SageMaker backend: real event-stream framing from a local server, botocore's Stubber
for the error codes, moto for the control plane (instance type and variant)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from sagemaker_standin.eventstream import exception_event
from test_backend_vllm_replay import (
    CHAT_COMPLETION,
    CONTENT,
    REASONING,
    TOOL_ARGUMENTS,
    WEATHER_TOOL,
    ReplayServer,
    Reply,
    chat_stream_chunks,
    split_every,
    sse_bytes,
)
from test_client_harness import HELLO, FakeTracker, Harness, Sleeps, no_sleep_policy, text_of

from gptoss_aws.backends._sse_stream import SSEChunkStream
from gptoss_aws.client import GptOss
from gptoss_aws.errors import (
    APIConnectionError,
    ConfigurationError,
    InvalidRequestError,
    ModelError,
    ModelNotReadyError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
)
from gptoss_aws.streaming._accumulate import ChunkAccumulator

ENDPOINT = "gpt-oss-ep"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    replay = ReplayServer().start()
    # boto3's service-specific endpoint variable: the real client, pointed at our server.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", replay.url)
    yield replay
    replay.stop()


@pytest.fixture
def tracker() -> FakeTracker:
    return FakeTracker()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(params=["sync", "async"])
def harness(
    request: pytest.FixtureRequest, server: ReplayServer, tracker: FakeTracker, sleeps: Sleeps
) -> Harness:
    def factory(cls: type[Any]) -> Any:
        return cls.sagemaker(
            ENDPOINT,
            inference_component="gpt-oss-ic",
            instance_type="ml.p5.4xlarge",
            variant="AllTraffic",
            model="gpt-oss-120b",
            custom_attributes="route=/v1/chat/completions",
            tracker=tracker,
            retry_policy=no_sleep_policy(sleeps),
        )

    return Harness(request.param, factory)


# ---- the calls over the wire -------------------------------------------------------------------


def test_invoke_endpoint_sends_the_openai_body_and_reads_the_answer(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    answer = harness.create(reasoning_effort="medium", max_tokens=100)
    message = answer.choices[0].message
    assert (message.content, message.reasoning) == (CONTENT, REASONING)
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (68, 29)
    assert answer.usage.reasoning_tokens == 10
    assert answer.backend == "sagemaker"
    (seen,) = server.seen
    assert seen.path == f"/endpoints/{ENDPOINT}/invocations"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["X-Amzn-SageMaker-Inference-Component"] == "gpt-oss-ic"
    assert seen.headers["X-Amzn-SageMaker-Custom-Attributes"] == "route=/v1/chat/completions"
    assert "Authorization" in seen.headers  # SigV4-signed like the real thing
    assert seen.json() == {
        "model": "gpt-oss-120b",
        "messages": HELLO,
        "reasoning_effort": "medium",
        "max_tokens": 100,
    }
    intent = tracker.last.intent
    assert (intent.backend, intent.endpoint, intent.inference_component) == (
        "sagemaker",
        ENDPOINT,
        "gpt-oss-ic",
    )
    assert (intent.instance_type, intent.variant, intent.region) == (
        "ml.p5.4xlarge",
        "AllTraffic",
        "us-east-1",
    )
    assert tracker.last.only.status == "ok"


def test_stream_over_payload_parts_split_every_13_bytes(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    chunks = harness.stream()
    assert text_of(chunks, "reasoning") == REASONING
    assert text_of(chunks, "content") == CONTENT
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 29
    assert chunks[-1].cost is not None
    (seen,) = server.seen
    assert seen.path == f"/endpoints/{ENDPOINT}/invocations-response-stream"
    assert seen.json()["stream_options"] == {"include_usage": True}
    assert tracker.last.only.usage_source == "reported"


@pytest.mark.parametrize(
    "split",
    [
        lambda data: [data],  # every event in one PayloadPart (strands-agents #4035)
        lambda data: split_every(data, 1),  # every byte its own part
        lambda data: split_every(data, 4096),
        lambda data: [data[: len(data) // 2 + 1], data[len(data) // 2 + 1 :]],
    ],
    ids=["one-part", "byte-parts", "4k-parts", "halves"],
)
def test_any_payload_part_boundaries_give_the_same_answer(
    harness: Harness, server: ReplayServer, split: Any
) -> None:
    server.payload_split = split
    chunks = harness.stream(tools=[WEATHER_TOOL])
    tool_args = "".join(
        (tc.function or {}).get("arguments", "")
        for c in chunks
        for ch in c.choices
        for tc in ch.delta.tool_calls or ()
    )
    assert tool_args == TOOL_ARGUMENTS
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.reasoning_tokens == 16


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(0, 10_000), max_size=40))
def test_payload_parts_cut_anywhere_reassemble_to_the_recorded_completion(
    cuts: list[int],
) -> None:
    # The same parser the backend uses, fed PayloadPart bytes cut at random places.
    data = sse_bytes(chat_stream_chunks())
    points = sorted({c % (len(data) + 1) for c in cuts})
    parts = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    stream = SSEChunkStream(iter(parts), lambda: None, "sagemaker")
    accumulator = ChunkAccumulator()
    for chunk in stream:
        accumulator.add(chunk)
    assert accumulator.usage is not None
    final = accumulator.completion("sagemaker", accumulator.usage)
    assert final.choices[0].message.content == CHAT_COMPLETION["choices"][0]["message"]["content"]
    assert final.choices[0].message.reasoning == REASONING
    assert stream.received_bytes == len(data)


def test_a_model_stream_error_mid_way_raises_and_records_what_arrived(
    harness: Harness, server: ReplayServer, tracker: FakeTracker, sleeps: Sleeps
) -> None:
    sse = sse_bytes(chat_stream_chunks()[:15], done=False)
    error = exception_event(
        "ModelStreamError", {"Message": "the model stopped", "ErrorCode": "StreamBroken"}
    )
    server.replies.append(server.sagemaker_stream(sse, tail=error))
    chunks, raised = harness.stream_until_error()
    assert isinstance(raised, ModelError)
    assert "the model stopped" in str(raised)
    assert len(chunks) == 15
    assert sleeps == []
    finish = tracker.last.only
    assert (finish.status, finish.error_kind, finish.usage_source) == (
        "error",
        "ModelError",
        "estimated",
    )
    assert finish.usage.completion_tokens >= 14


def test_a_stream_failing_before_its_first_payload_is_retried(
    harness: Harness, server: ReplayServer, sleeps: Sleeps
) -> None:
    failure = exception_event("InternalStreamFailure", {"Message": "try again"})
    server.replies.append(server.sagemaker_stream(b"", tail=failure))
    chunks = harness.stream()
    assert text_of(chunks, "content") == CONTENT
    assert sleeps == [0.5]
    assert len(server.seen) == 2


def test_a_connection_cut_mid_stream_is_a_connection_error(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    sse = sse_bytes(chat_stream_chunks())
    server.replies.append(server.sagemaker_stream(sse[: len(sse) // 2], cut=True))
    chunks, raised = harness.stream_until_error()
    assert isinstance(raised, APIConnectionError)
    assert 0 < len(chunks) < 22
    assert tracker.last.only.status == "error"


def test_http_model_error_uses_the_containers_status(
    harness: Harness, server: ReplayServer, sleeps: Sleeps
) -> None:
    # What SageMaker sends when the container answered 400: HTTP 424, x-amzn-ErrorType.
    body = {
        "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
        "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/x",
        "Message": "Received client error (400) from primary with message ...",
        "OriginalMessage": json.dumps({"error": {"message": "max_tokens too large"}}),
        "OriginalStatusCode": 400,
    }
    server.replies.append(
        Reply(
            status=424,
            headers={"Content-Type": "application/json", "x-amzn-ErrorType": "ModelError"},
            body=json.dumps(body).encode(),
        )
    )
    with pytest.raises(InvalidRequestError, match="max_tokens too large") as caught:
        harness.create()
    assert caught.value.status_code == 400
    assert sleeps == []


# ---- error codes (Stubber: the exact documented codes, parameters checked) ---------------------


def stubbed(region: str = "us-east-1") -> tuple[Any, Stubber]:
    client = boto3.client("sagemaker-runtime", region_name=region)
    return client, Stubber(client)


def expected_invoke(body: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "EndpointName": ENDPOINT,
        "Body": json.dumps(body or {"messages": HELLO}).encode(),
        "ContentType": "application/json",
        "Accept": "application/json",
        **extra,
    }


@pytest.mark.parametrize(
    ("code", "status", "extra", "error", "retried"),
    [
        ("ValidationError", 400, {}, InvalidRequestError, False),
        ("ModelError", 424, {"OriginalStatusCode": 400}, InvalidRequestError, False),
        ("ModelError", 424, {"OriginalStatusCode": 500}, ModelError, True),
        ("ModelError", 424, {"OriginalStatusCode": 503}, ModelNotReadyError, True),
        ("ModelError", 424, {"OriginalStatusCode": 429}, ThrottledError, True),
        ("ModelNotReadyException", 429, {}, ModelNotReadyError, True),
        ("ThrottlingException", 400, {}, ThrottledError, True),
        ("ServiceUnavailable", 503, {}, ModelNotReadyError, True),
        ("InternalFailure", 500, {}, ModelError, True),
        ("InternalDependencyException", 530, {}, ModelError, True),
        ("AccessDeniedException", 403, {}, PermissionDeniedError, False),
    ],
)
def test_runtime_error_codes_map_and_retry_as_documented(
    code: str,
    status: int,
    extra: dict[str, Any],
    error: type[Exception],
    retried: bool,
    tracker: FakeTracker,
    sleeps: Sleeps,
) -> None:
    runtime, stub = stubbed()
    attempts = 3 if retried else 1
    for _ in range(attempts):
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code=code,
            service_message="it failed",
            http_status_code=status,
            modeled_fields=extra or None,
            expected_params=expected_invoke(),
        )
    client = GptOss.sagemaker(
        ENDPOINT,
        instance_type="ml.g6e.2xlarge",
        runtime_client=runtime,
        tracker=tracker,
        retry_policy=no_sleep_policy(sleeps),
    )
    with stub, pytest.raises(error):
        client.chat.completions.create(messages=HELLO)
    stub.assert_no_pending_responses()
    assert len(sleeps) == attempts - 1
    assert tracker.last.only.error_kind == error.__name__


def test_a_missing_endpoint_is_not_found(tracker: FakeTracker) -> None:
    runtime, stub = stubbed()
    stub.add_client_error(
        "invoke_endpoint",
        service_error_code="ValidationError",
        service_message=f"Endpoint {ENDPOINT} of account 123456789012 not found.",
        http_status_code=400,
        expected_params=expected_invoke(),
    )
    client = GptOss.sagemaker(ENDPOINT, instance_type="ml.g6e.2xlarge", runtime_client=runtime)
    with stub, pytest.raises(NotFoundError, match="not found"):
        client.chat.completions.create(messages=HELLO)


def test_a_successful_stubbed_invoke_parses_the_container_body() -> None:
    runtime, stub = stubbed()
    import io

    from botocore.response import StreamingBody

    raw = json.dumps(CHAT_COMPLETION).encode()
    stub.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(raw), len(raw)), "ContentType": "application/json"},
        expected_invoke({"model": "gpt-oss-20b", "messages": HELLO}, TargetVariant="blue"),
    )
    client = GptOss.sagemaker(
        ENDPOINT,
        instance_type="ml.g6e.2xlarge",
        variant="blue",
        model="gpt-oss-20b",
        runtime_client=runtime,
    )
    with stub:
        answer = client.chat.completions.create(messages=HELLO)
    assert answer.choices[0].message.content == CONTENT


# ---- placement for the cost record (DescribeEndpoint -> DescribeEndpointConfig) ----------------


def _moto_endpoint(name: str = ENDPOINT, instance: str = "ml.g4dn.xlarge") -> None:
    sm: Any = boto3.client("sagemaker", region_name="us-east-1")
    sm.create_model(
        ModelName="gpt-oss",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss:1"},
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "gpt-oss",
                "InitialInstanceCount": 1,
                "InstanceType": instance,
            },
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


def test_instance_type_and_variant_are_looked_up_from_the_endpoint(
    server: ReplayServer, tracker: FakeTracker
) -> None:
    with mock_aws():
        _moto_endpoint()
        client = GptOss.sagemaker(ENDPOINT, tracker=tracker)
        client.chat.completions.create(messages=HELLO)
    intent = tracker.last.intent
    assert (intent.instance_type, intent.variant, intent.region) == (
        "ml.g4dn.xlarge",
        "AllTraffic",
        "us-east-1",
    )


def test_an_unknown_endpoint_fails_before_anything_is_recorded(
    server: ReplayServer, tracker: FakeTracker
) -> None:
    with mock_aws():
        client = GptOss.sagemaker("no-such-endpoint", tracker=tracker)
        with pytest.raises(NotFoundError, match="no-such-endpoint"):
            client.chat.completions.create(messages=HELLO)
    assert tracker.calls == []
    assert server.seen == []


def test_placement_is_described_once_and_inference_components_name_their_variant(
    server: ReplayServer, tracker: FakeTracker
) -> None:
    control = boto3.client("sagemaker", region_name="us-east-1")
    stub = Stubber(control)
    stub.add_response(
        "describe_inference_component",
        {
            "InferenceComponentName": "ic-120b",
            "InferenceComponentArn": "arn:aws:sagemaker:"
            "us-east-1:123456789012:inference-component/ic-120b",
            "EndpointName": ENDPOINT,
            "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT}",
            "VariantName": "gpu",
            "CreationTime": 0,
            "LastModifiedTime": 0,
        },
        {"InferenceComponentName": "ic-120b"},
    )
    stub.add_response(
        "describe_endpoint",
        {
            "EndpointName": ENDPOINT,
            "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/x",
            "EndpointConfigName": "cfg",
            "EndpointStatus": "InService",
            "CreationTime": 0,
            "LastModifiedTime": 0,
        },
        {"EndpointName": ENDPOINT},
    )
    stub.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": "cfg",
            "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:1:x",
            "CreationTime": 0,
            "ProductionVariants": [
                {"VariantName": "cpu", "InstanceType": "ml.m5.xlarge"},
                {"VariantName": "gpu", "InstanceType": "ml.p5.4xlarge"},
            ],
        },
        {"EndpointConfigName": "cfg"},
    )
    client = GptOss.sagemaker(
        ENDPOINT, inference_component="ic-120b", sagemaker_client=control, tracker=tracker
    )
    with stub:
        client.chat.completions.create(messages=HELLO)
        client.with_options(timeout=5).chat.completions.create(messages=HELLO)  # no new lookups
    stub.assert_no_pending_responses()
    for call in tracker.calls:
        assert (call.intent.variant, call.intent.instance_type) == ("gpu", "ml.p5.4xlarge")


def test_without_describe_permission_the_call_still_goes_through(
    server: ReplayServer, tracker: FakeTracker, caplog: pytest.LogCaptureFixture
) -> None:
    control = boto3.client("sagemaker", region_name="us-east-1")
    stub = Stubber(control)
    stub.add_client_error("describe_endpoint", "AccessDeniedException", "no", 403)
    client = GptOss.sagemaker(ENDPOINT, sagemaker_client=control, tracker=tracker)
    with stub, caplog.at_level(logging.WARNING):
        answer = client.chat.completions.create(messages=HELLO)
    assert answer.choices[0].message.content == CONTENT
    assert tracker.last.intent.instance_type is None
    assert "pass instance_type=" in caplog.text


def test_unknown_region_and_missing_endpoint_name_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="unknown region 'us-east-7'"):
        GptOss.sagemaker(ENDPOINT, region="us-east-7")
    with pytest.raises(ConfigurationError, match="endpoint_name"):
        GptOss.sagemaker("")


def test_botocore_retries_are_off_so_attempts_never_multiply(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    client = GptOss.sagemaker(
        ENDPOINT, instance_type="ml.g6e.2xlarge", timeout=42, retry_policy=no_sleep_policy(sleeps)
    )
    backend: Any = client.backend
    config = backend.runtime.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert config.read_timeout == 42
    unavailable = Reply(
        status=503,
        headers={"Content-Type": "application/json", "x-amzn-ErrorType": "ServiceUnavailable"},
        body=b'{"message": "busy"}',
    )
    server.replies.extend([unavailable] * 3)
    with pytest.raises(ModelNotReadyError):
        client.chat.completions.create(messages=HELLO)
    # Botocore's standard mode alone would retry a 503 twice per attempt: 9 requests.
    assert len(server.seen) == 3
    assert sleeps == [0.5, 1.0]


def test_real_tracker_records_the_endpoint_placement_and_defers_the_cost(
    server: ReplayServer,
) -> None:
    from gptoss_aws.tracking import Tracker

    tracker = Tracker()
    client = GptOss.sagemaker(
        ENDPOINT, instance_type="ml.p5.4xlarge", variant="AllTraffic", tracker=tracker
    )
    answer = client.chat.completions.create(messages=HELLO, max_tokens=64)
    chunks = list(client.chat.completions.create(messages=HELLO, max_tokens=64, stream=True))
    # Billed by instance-hour: a call's share is allocated by reports, never a per-call $0.
    for cost in (answer.cost, chunks[-1].cost):
        assert cost is not None
        assert (cost.usd, cost.basis) == (None, "instance_hours")
    rows = tracker.ledger.query(backend="sagemaker")
    assert [r.status for r in rows] == ["ok", "ok"]
    assert [r.stream for r in rows] == [False, True]
    for row in rows:
        assert (row.endpoint, row.variant, row.instance_type, row.region) == (
            ENDPOINT,
            "AllTraffic",
            "ml.p5.4xlarge",
            "us-east-1",
        )
        assert (row.prompt_tokens, row.completion_tokens, row.reasoning_tokens) == (68, 29, 10)
    assert rows[1].ttft_ms is not None
