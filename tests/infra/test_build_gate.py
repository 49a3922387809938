"""The readiness gates' Lambda handlers against moto (S3, ECR) and a CodeBuild Stubber.

What the tests encode, from AWS's documentation:
- CodeBuild API reference, Build.buildStatus: "FAILED | FAULT | IN_PROGRESS | STOPPED |
  SUCCEEDED | TIMED_OUT"; BuildPhase.contexts[].message: "An explanation of the build
  phase's context"; LogsLocation.deepLink: "The URL to an individual build log in CloudWatch
  Logs".
- aws-cdk-lib custom-resources README (Provider framework): isComplete returns
  ``{"IsComplete": false}`` to be asked again after the query interval; an exception fails
  the resource, and its message becomes the CloudFormation status reason; ``Data`` becomes
  the resource's attributes (what Fn::GetAtt reads).
- ECR API reference, DescribeImages: an unknown tag raises ImageNotFoundException.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from gptoss_infra.constructs.sagemaker import mirror_verify
from gptoss_infra.constructs.sagemaker.build_gate import GateError, is_complete, on_event

BUCKET = "weights-bucket"
PREFIX = "models/gpt-oss-120b/"
MANIFEST_KEY = "models/gpt-oss-120b.manifest.json"
WEIGHTS = {
    "Kind": "weights",
    "ProjectName": "mirror",
    "Bucket": BUCKET,
    "Prefix": PREFIX,
    "ManifestKey": MANIFEST_KEY,
    "RepoId": "openai/gpt-oss-120b",
    "Revision": "main",
}
FILES = {"config.json": b"{}", "model-00001-of-00002.safetensors": b"x" * 1000}
MANIFEST = {
    "repo_id": "openai/gpt-oss-120b",
    "revision": "main",
    "sha": "b5c939de8f754692c1647ca79fbf85e8c1e70f8a",
    "files": [
        {"path": path, "size": len(body), "sha256": None, "git_blob_id": None}
        for path, body in FILES.items()
    ],
}
BUILD_ID = "mirror:0b1c2d3e"
LOGS = "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEvent:group=g"


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        ecr = boto3.client("ecr", region_name="us-east-1")
        logs = boto3.client("logs", region_name="us-east-1")
        codebuild = boto3.client("codebuild", region_name="us-east-1")
        with Stubber(codebuild) as stub:
            yield {"s3": s3, "ecr": ecr, "logs": logs, "codebuild": codebuild, "stub": stub}


def clients(aws: dict[str, Any]) -> Callable[[str], Any]:
    return lambda name: aws[name]


def upload(s3: Any, files: dict[str, bytes], manifest: dict[str, Any] | None = MANIFEST) -> None:
    for path, body in files.items():
        s3.put_object(Bucket=BUCKET, Key=PREFIX + path, Body=body)
    if manifest is not None:
        s3.put_object(Bucket=BUCKET, Key=MANIFEST_KEY, Body=json.dumps(manifest).encode())


def create(props: dict[str, Any]) -> dict[str, Any]:
    return {"RequestType": "Create", "ResourceProperties": props}


def build(status: str, phases: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": BUILD_ID,
        "arn": f"arn:aws:codebuild:us-east-1:123456789012:build/{BUILD_ID}",
        "buildStatus": status,
        "projectName": "mirror",
        "startTime": datetime(2026, 12, 2, tzinfo=UTC),
        "phases": phases or [],
        "logs": {"deepLink": LOGS},
    }


def expect_start(stub: Stubber, project: str = "mirror") -> None:
    stub.add_response("start_build", {"build": build("IN_PROGRESS")}, {"projectName": project})


def expect_poll(stub: Stubber, answer: dict[str, Any]) -> None:
    stub.add_response("batch_get_builds", {"builds": [answer]}, {"ids": [BUILD_ID]})


# --- weights ---------------------------------------------------------------------------


def test_weights_already_mirrored_skip_the_build(aws: dict[str, Any]) -> None:
    upload(aws["s3"], FILES)
    # No CodeBuild response is queued: any call would fail the test.
    result = on_event(create(WEIGHTS), clients=clients(aws))
    assert "BuildId" not in result
    assert result["Data"]["WeightsS3Uri"] == f"s3://{BUCKET}/{PREFIX}"
    assert result["Data"]["Revision"] == MANIFEST["sha"]
    done = is_complete({**create(WEIGHTS), **result}, clients=clients(aws))
    assert done == {"IsComplete": True, "Data": result["Data"]}
    aws["stub"].assert_no_pending_responses()


def test_missing_weights_start_the_mirror_and_wait_for_it(aws: dict[str, Any]) -> None:
    expect_start(aws["stub"])
    started = on_event(create(WEIGHTS), clients=clients(aws))
    assert started["BuildId"] == BUILD_ID
    expect_poll(aws["stub"], build("IN_PROGRESS"))
    assert is_complete({**create(WEIGHTS), **started}, clients=clients(aws)) == {
        "IsComplete": False
    }
    upload(aws["s3"], FILES)  # what the build does
    expect_poll(aws["stub"], build("SUCCEEDED"))
    done = is_complete({**create(WEIGHTS), **started}, clients=clients(aws))
    assert done["IsComplete"] is True
    assert done["Data"]["TotalBytes"] == str(sum(len(b) for b in FILES.values()))


def test_a_failed_build_fails_the_gate_with_its_phase_reason_and_logs(
    aws: dict[str, Any],
) -> None:
    expect_start(aws["stub"])
    started = on_event(create(WEIGHTS), clients=clients(aws))
    phases: list[dict[str, Any]] = [
        {"phaseType": "INSTALL", "phaseStatus": "SUCCEEDED"},
        {
            "phaseType": "BUILD",
            "phaseStatus": "FAILED",
            "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": "exit status 1"}],
        },
    ]
    expect_poll(aws["stub"], build("FAILED", phases))
    with pytest.raises(GateError) as error:
        is_complete({**create(WEIGHTS), **started}, clients=clients(aws))
    assert str(error.value) == (
        f"CodeBuild build {BUILD_ID} FAILED in phase BUILD: exit status 1. Logs: {LOGS}"
    )


def test_the_failure_carries_the_last_log_lines_the_rollback_would_delete(
    aws: dict[str, Any],
) -> None:
    group, stream = "/gptoss/mirror", "build/0b1c2d3e"
    aws["logs"].create_log_group(logGroupName=group)
    aws["logs"].create_log_stream(logGroupName=group, logStreamName=stream)
    lines = [
        "local: 16 files checked, 1 problems",
        "MISMATCH model-00001-of-00002.safetensors: sha256 1f2e, the hub says 9a8b",
    ]
    aws["logs"].put_log_events(
        logGroupName=group,
        logStreamName=stream,
        # CloudWatch Logs rejects events older than 14 days: stamp them now.
        logEvents=[
            {"timestamp": int(time.time() * 1000) + i, "message": m} for i, m in enumerate(lines)
        ],
    )
    expect_start(aws["stub"])
    started = on_event(create(WEIGHTS), clients=clients(aws))
    failed = build("FAILED")
    failed["logs"] = {"deepLink": LOGS, "groupName": group, "streamName": stream}
    expect_poll(aws["stub"], failed)
    with pytest.raises(GateError) as error:
        is_complete({**create(WEIGHTS), **started}, clients=clients(aws))
    message = str(error.value)
    assert "Last log lines: local: 16 files checked, 1 problems | MISMATCH model-00001" in message
    assert message.endswith(f"Logs: {LOGS}")


def test_a_size_mismatch_after_the_build_is_refused(aws: dict[str, Any]) -> None:
    expect_start(aws["stub"])
    started = on_event(create(WEIGHTS), clients=clients(aws))
    upload(aws["s3"], {**FILES, "model-00001-of-00002.safetensors": b"x" * 999})
    expect_poll(aws["stub"], build("SUCCEEDED"))
    with pytest.raises(GateError, match="999 bytes, the hub says 1000"):
        is_complete({**create(WEIGHTS), **started}, clients=clients(aws))


def test_a_manifest_for_another_revision_mirrors_again(aws: dict[str, Any]) -> None:
    upload(aws["s3"], FILES)
    pinned = {**WEIGHTS, "Revision": "0123456789abcdef0123456789abcdef01234567"}
    expect_start(aws["stub"])
    assert on_event(create(pinned), clients=clients(aws))["BuildId"] == BUILD_ID
    # The sha the manifest pinned counts as the same revision.
    same = {**WEIGHTS, "Revision": MANIFEST["sha"]}
    assert "BuildId" not in on_event(create(same), clients=clients(aws))


def test_an_extra_shard_under_the_prefix_is_not_ready(aws: dict[str, Any]) -> None:
    upload(aws["s3"], {**FILES, "stale-00003.safetensors": b"old"})
    expect_start(aws["stub"])
    assert on_event(create(WEIGHTS), clients=clients(aws))["BuildId"] == BUILD_ID


def test_self_uploaded_weights_need_config_json(aws: dict[str, Any]) -> None:
    manual = {**WEIGHTS, "ProjectName": ""}
    with pytest.raises(GateError, match=r"holds no config\.json"):
        on_event(create(manual), clients=clients(aws))
    upload(aws["s3"], FILES, manifest=None)
    assert on_event(create(manual), clients=clients(aws))["Data"]["Revision"] == "uploaded"


def test_delete_leaves_the_weights_alone(aws: dict[str, Any]) -> None:
    upload(aws["s3"], FILES)
    event = {
        "RequestType": "Delete",
        "PhysicalResourceId": "weights:x",
        "ResourceProperties": WEIGHTS,
    }
    assert on_event(event, clients=clients(aws)) == {"PhysicalResourceId": "weights:x"}
    assert is_complete(event, clients=clients(aws)) == {"IsComplete": True}
    assert aws["s3"].list_objects_v2(Bucket=BUCKET)["KeyCount"] == 3


# --- image -----------------------------------------------------------------------------

IMAGE = {
    "Kind": "image",
    "ProjectName": "image-build",
    "RepositoryName": "gptoss-dev-vllm",
    "RepositoryUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/gptoss-dev-vllm",
    "Tag": "src-0123abcd",
}


def push(ecr: Any) -> str:
    ecr.create_repository(repositoryName=IMAGE["RepositoryName"])
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": "sha256:" + "1" * 64},
        }
    )
    pushed = ecr.put_image(
        repositoryName=IMAGE["RepositoryName"], imageManifest=manifest, imageTag=IMAGE["Tag"]
    )
    digest: str = pushed["image"]["imageId"]["imageDigest"]
    return digest


def test_an_image_already_built_skips_the_build_and_is_pinned_by_digest(
    aws: dict[str, Any],
) -> None:
    digest = push(aws["ecr"])
    result = on_event(create(IMAGE), clients=clients(aws))
    assert result["Data"] == {"ImageUri": f"{IMAGE['RepositoryUri']}@{digest}"}


def test_a_missing_image_is_built_then_pinned(aws: dict[str, Any]) -> None:
    expect_start(aws["stub"], "image-build")
    started = on_event(create(IMAGE), clients=clients(aws))  # no repository yet either
    assert started["BuildId"] == BUILD_ID
    digest = push(aws["ecr"])  # what the build does
    expect_poll(aws["stub"], build("SUCCEEDED"))
    done = is_complete({**create(IMAGE), **started}, clients=clients(aws))
    assert done == {"IsComplete": True, "Data": {"ImageUri": f"{IMAGE['RepositoryUri']}@{digest}"}}


def test_a_build_that_succeeds_without_pushing_is_refused(aws: dict[str, Any]) -> None:
    aws["ecr"].create_repository(repositoryName=IMAGE["RepositoryName"])
    expect_start(aws["stub"], "image-build")
    started = on_event(create(IMAGE), clients=clients(aws))
    expect_poll(aws["stub"], build("SUCCEEDED"))
    with pytest.raises(GateError, match="is not in ECR"):
        is_complete({**create(IMAGE), **started}, clients=clients(aws))


def test_timed_out_builds_say_so(aws: dict[str, Any]) -> None:
    expect_start(aws["stub"], "image-build")
    started = on_event(create(IMAGE), clients=clients(aws))
    expect_poll(aws["stub"], build("TIMED_OUT"))
    with pytest.raises(GateError, match=f"{BUILD_ID} TIMED_OUT. Logs: "):
        is_complete({**create(IMAGE), **started}, clients=clients(aws))


def test_the_handler_ships_its_verifier() -> None:
    # The Lambda asset holds build_gate.py and mirror_verify.py side by side.
    assert build_gate_module_verifier() is mirror_verify.check_s3


def build_gate_module_verifier() -> Any:
    from gptoss_infra.constructs.sagemaker import build_gate

    return vars(build_gate)["mirror_verify"].check_s3


def test_the_handlers_import_as_lambda_loads_them(tmp_path: Path) -> None:
    """Lambda's Python runtime imports the handler file as a top-level module from the
    asset root (handler ``build_gate.on_event``); the asset holds only these two files."""
    from gptoss_infra.constructs.sagemaker.readiness_gate import HANDLER_DIR, HANDLER_FILES

    for name in HANDLER_FILES:
        shutil.copy(HANDLER_DIR / name, tmp_path / name)
    done = subprocess.run(
        [
            sys.executable,
            "-s",
            "-c",
            "import build_gate; print(build_gate.on_event.__name__, "
            "build_gate.is_complete.__name__, vars(build_gate)['mirror_verify'].__name__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["on_event", "is_complete", "mirror_verify"]
