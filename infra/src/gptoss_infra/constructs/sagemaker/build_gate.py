"""Lambda handlers of the readiness gates: start a CodeBuild build, wait for it, verify.

Runs in AWS Lambda under the CDK Provider framework (aws-cdk-lib custom_resources): the
framework calls ``on_event`` once per CloudFormation request and then ``is_complete`` every
query interval until it returns ``IsComplete: True`` or raises; a raised error fails the
resource with its message, which CloudFormation shows as the resource's status reason. The
event ``is_complete`` receives is the ``on_event`` event merged with what ``on_event``
returned (custom-resources README, "Asynchronous Providers: isComplete").

Two gates, one per ``Kind`` in the resource properties:

- ``weights`` (``Custom::GptOssWeightsReady``): done already when the manifest the mirror
  job writes last (``<prefix>.manifest.json``, uploaded only after its sha256 and size
  checks passed) names the requested repository and revision and the prefix still lists
  every file at its size; otherwise start the mirror build, and when it succeeds check the
  prefix against the manifest again. Without a mirror project (you upload the weights
  yourself) the prefix must hold ``config.json``.
- ``image`` (``Custom::GptOssImageReady``): done already when the repository holds the tag
  (the tag is a hash of the build's inputs); otherwise start the image build and wait.

Delete does nothing: the bucket and repository have their own removal policies.

Standard library and boto3 only (the Lambda Python runtime ships boto3); ``mirror_verify``
is packaged beside this file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

try:  # package import in tests, top-level module in Lambda
    from . import mirror_verify
except ImportError:  # pragma: no cover - the Lambda layout
    import mirror_verify  # type: ignore[import-not-found,no-redef]

# CodeBuild build states (BatchGetBuilds, Build.buildStatus): IN_PROGRESS until one of these.
FAILED_STATES = {"FAILED", "FAULT", "STOPPED", "TIMED_OUT"}
SUCCEEDED = "SUCCEEDED"

Event = Mapping[str, Any]


class GateError(RuntimeError):
    """What failed, shown by CloudFormation as the gate's status reason."""


def _client(name: str) -> Any:
    import boto3  # imported here so the module loads without boto3 for its pure helpers

    return boto3.client(name)  # type: ignore[call-overload]


# --- weights ---------------------------------------------------------------------------


def read_manifest(s3: Any, props: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        body = s3.get_object(Bucket=props["Bucket"], Key=props["ManifestKey"])["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    manifest: dict[str, Any] = json.loads(body)
    return manifest


def list_prefix(s3: Any, bucket: str, prefix: str) -> dict[str, Any]:
    """Every object under ``prefix``, in the shape of ``aws s3api list-objects-v2``."""
    contents: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        contents += [{"Key": o["Key"], "Size": o["Size"]} for o in page.get("Contents", [])]
    return {"Contents": contents}


def manifest_matches(manifest: Mapping[str, Any], props: Mapping[str, Any]) -> bool:
    """The manifest is for the requested repository at the requested revision (a branch
    or tag is recorded as given; a commit sha matches the pinned sha)."""
    return manifest.get("repo_id") == props["RepoId"] and props["Revision"] in {
        manifest.get("revision"),
        manifest.get("sha"),
    }


def weights_problems(s3: Any, props: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    """What is wrong with the prefix (empty when ready) and the gate's attributes."""
    bucket, prefix = props["Bucket"], props["Prefix"]
    uri = f"s3://{bucket}/{prefix}"
    listing = list_prefix(s3, bucket, prefix)
    if not props.get("ProjectName"):
        keys = {o["Key"] for o in listing["Contents"]}
        if f"{prefix}config.json" not in keys:
            return (
                [f"{uri} holds no config.json: upload the uncompressed checkpoint there first"],
                {},
            )
        total = sum(o["Size"] for o in listing["Contents"])
        return [], {"WeightsS3Uri": uri, "Revision": "uploaded", "TotalBytes": str(total)}
    manifest = read_manifest(s3, props)
    if manifest is None:
        return [f"no manifest at s3://{bucket}/{props['ManifestKey']}"], {}
    if not manifest_matches(manifest, props):
        return [
            f"the manifest is for {manifest.get('repo_id')}@{manifest.get('revision')}, not "
            f"{props['RepoId']}@{props['Revision']}"
        ], {}
    problems = mirror_verify.check_s3(manifest, listing, prefix)
    total = sum(entry["size"] or 0 for entry in manifest["files"])
    return problems, {
        "WeightsS3Uri": uri,
        "Revision": str(manifest.get("sha")),
        "TotalBytes": str(total),
    }


# --- image -----------------------------------------------------------------------------


def image_uri(ecr: Any, props: Mapping[str, Any]) -> str | None:
    """``<repository uri>@sha256:...`` of the tag, or None when the tag does not exist."""
    try:
        found = ecr.describe_images(
            repositoryName=props["RepositoryName"], imageIds=[{"imageTag": props["Tag"]}]
        )["imageDetails"]
    except (ecr.exceptions.ImageNotFoundException, ecr.exceptions.RepositoryNotFoundException):
        return None
    if not found:
        return None
    return f"{props['RepositoryUri']}@{found[0]['imageDigest']}"


# --- builds ----------------------------------------------------------------------------


def logs_link(build: Mapping[str, Any]) -> str:
    logs = build.get("logs") or {}
    link = logs.get("deepLink")
    if link:
        return str(link)
    region = build.get("arn", "arn:aws:codebuild:unknown").split(":")[3]
    build_id = quote(str(build.get("id", "")), safe="")
    return (
        f"https://console.aws.amazon.com/codesuite/codebuild/projects/"
        f"{build.get('projectName', '')}/build/{build_id}/?region={region}"
    )


def log_tail(logs: Any, build: Mapping[str, Any], lines: int = 8, limit: int = 500) -> str:
    """The build's last log lines, joined: a failed first deploy rolls the stack back and
    deletes the build's log group with it, so the reason has to travel in the message."""
    where = build.get("logs") or {}
    group, stream = where.get("groupName"), where.get("streamName")
    if logs is None or not group or not stream:
        return ""
    try:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream, limit=lines, startFromHead=False
        )["events"]
    except logs.exceptions.ResourceNotFoundException:
        return ""
    text = " | ".join(e["message"].strip() for e in events if e["message"].strip())
    return text[-limit:]


def build_failure(build: Mapping[str, Any], tail: str = "") -> str:
    """One line: which build, its state, the phase that failed and why, its last log lines
    and its logs link."""
    failed = [
        phase for phase in build.get("phases") or [] if phase.get("phaseStatus") in FAILED_STATES
    ]
    where = ""
    if failed:
        phase = failed[-1]
        reasons = "; ".join(
            str(c.get("message", "")) for c in phase.get("contexts") or [] if c.get("message")
        )
        where = f" in phase {phase.get('phaseType')}" + (f": {reasons}" if reasons else "")
    state = f"CodeBuild build {build.get('id')} {build.get('buildStatus')}"
    last = f". Last log lines: {tail}" if tail else ""
    return f"{state}{where}{last}. Logs: {logs_link(build)}"


def _ready(props: Mapping[str, Any], s3: Any, ecr: Any) -> dict[str, str] | None:
    if props["Kind"] == "weights":
        problems, data = weights_problems(s3, props)
        return None if problems else data
    uri = image_uri(ecr, props)
    return None if uri is None else {"ImageUri": uri}


def physical_id(props: Mapping[str, Any]) -> str:
    if props["Kind"] == "weights":
        return f"weights:{props['Bucket']}/{props['Prefix']}"
    return f"image:{props['RepositoryName']}:{props['Tag']}"


def on_event(event: Event, _context: Any = None, *, clients: Any = _client) -> dict[str, Any]:
    props = event["ResourceProperties"]
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    s3 = clients("s3") if props["Kind"] == "weights" else None
    ecr = clients("ecr") if props["Kind"] == "image" else None
    data = _ready(props, s3, ecr)
    if data is not None:
        print(json.dumps({"gate": props["Kind"], "skipped": "already done", **data}))
        return {"PhysicalResourceId": physical_id(props), "Data": data}
    if not props.get("ProjectName"):
        problems, _ = weights_problems(s3, props)
        raise GateError("; ".join(problems))
    build = clients("codebuild").start_build(projectName=props["ProjectName"])["build"]
    print(json.dumps({"gate": props["Kind"], "started": build["id"]}))
    return {"PhysicalResourceId": physical_id(props), "BuildId": build["id"]}


def is_complete(event: Event, _context: Any = None, *, clients: Any = _client) -> dict[str, Any]:
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    if "BuildId" not in event:  # on_event found the work done
        return {"IsComplete": True, "Data": event.get("Data", {})}
    props = event["ResourceProperties"]
    (build,) = clients("codebuild").batch_get_builds(ids=[event["BuildId"]])["builds"]
    status = build["buildStatus"]
    if status == "IN_PROGRESS":
        return {"IsComplete": False}
    if status in FAILED_STATES:
        raise GateError(build_failure(build, log_tail(clients("logs"), build)))
    s3 = clients("s3") if props["Kind"] == "weights" else None
    ecr = clients("ecr") if props["Kind"] == "image" else None
    if props["Kind"] == "weights":
        problems, data = weights_problems(s3, props)
        if problems:
            raise GateError(
                f"build {build['id']} succeeded but the prefix does not match its manifest: "
                + "; ".join(problems[:10])
            )
        return {"IsComplete": True, "Data": data}
    uri = image_uri(ecr, props)
    if uri is None:
        raise GateError(
            f"build {build['id']} succeeded but {props['RepositoryName']}:{props['Tag']} "
            f"is not in ECR. Logs: {logs_link(build)}"
        )
    return {"IsComplete": True, "Data": {"ImageUri": uri}}
