"""What ``cdk destroy`` leaves behind, and how to delete it.

    python -m gptoss_infra.teardown report cdk.out     # before `cdk destroy`
    python -m gptoss_infra.teardown stacks cdk.out     # the environment's stacks
    python -m gptoss_infra.teardown empty-bucket NAME --region REGION

CloudFormation keeps a resource whose ``DeletionPolicy`` is ``Retain`` (or
``RetainExceptOnCreate``) when its stack is deleted (CloudFormation user guide,
DeletionPolicy attribute: "CloudFormation keeps the resource without deleting the resource
or its contents when its stack is deleted"). This reads every template of the assembly,
asks CloudFormation for the physical ids of those resources while the stacks still exist,
and prints each with the command that deletes it. It also names what the deploy created
outside any stack: the ECR pull-through cache rule the image build adds when the registry
has none (shared by every environment of the account and Region).

Run it before ``cdk destroy``: afterwards the stacks, and so the ids, are gone.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RETAINED = {"Retain", "RetainExceptOnCreate"}
DECLARATION = "gptoss:retained"  # resource metadata: {"reason", "delete"}

# resource type -> delete command for a physical id (and the region).
_COMMANDS: dict[str, Callable[[str, str], str]] = {
    "AWS::S3::Bucket": lambda pid, region: (
        f"python -m gptoss_infra.teardown empty-bucket {pid} --region {region} && "
        f"aws s3api delete-bucket --bucket {pid} --region {region}"
    ),
    "AWS::KMS::Key": lambda pid, region: (
        f"aws kms schedule-key-deletion --key-id {pid} --pending-window-in-days 7 --region {region}"
    ),
    "AWS::Logs::LogGroup": lambda pid, region: (
        f"aws logs delete-log-group --log-group-name {pid} --region {region}"
    ),
    "AWS::ECR::Repository": lambda pid, region: (
        f"aws ecr delete-repository --repository-name {pid} --force --region {region}"
    ),
    "AWS::SNS::Topic": lambda pid, region: (
        f"aws sns delete-topic --topic-arn {pid} --region {region}"
    ),
    "AWS::DynamoDB::Table": lambda pid, region: (
        f"aws dynamodb delete-table --table-name {pid} --region {region}"
    ),
}


@dataclass(frozen=True)
class Leftover:
    """One resource that outlives ``cdk destroy``."""

    stack: str
    logical_id: str
    resource_type: str
    region: str
    physical_id: str | None
    why: str

    @property
    def command(self) -> str:
        if self.physical_id is None:
            return "(not deployed, or its stack is already gone: nothing to delete)"
        make = _COMMANDS.get(self.resource_type)
        if make is None:
            return f"delete {self.physical_id} in the {self.resource_type} console"
        return make(self.physical_id, self.region)


@dataclass(frozen=True)
class StackTemplate:
    name: str
    region: str
    resources: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def shared(self) -> bool:
        """The account stack (Bedrock invocation logging) belongs to every environment of
        the account and Region: destroying one environment never deletes it."""
        return bool(self.metadata.get("gptoss", {}).get("component") == "account")

    @property
    def serves(self) -> bool:
        return any(r.get("Type") == "AWS::SageMaker::Endpoint" for r in self.resources.values())


def environment_stacks(templates: Sequence[StackTemplate], endpoint_only: bool) -> list[str]:
    """The stacks `make destroy` deletes (all but shared ones), or only the endpoint's."""
    return [t.name for t in templates if not t.shared and (t.serves or not endpoint_only)]


def read_templates(assembly: Path) -> list[StackTemplate]:
    manifest = json.loads((assembly / "manifest.json").read_text(encoding="utf-8"))
    out = []
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_file = artifact["properties"]["templateFile"]
        template = json.loads((assembly / template_file).read_text(encoding="utf-8"))
        region = str(artifact.get("environment", "")).rsplit("/", 1)[-1]
        stack_name = artifact["properties"].get("stackName", name)
        out.append(
            StackTemplate(
                stack_name, region, template.get("Resources", {}), template.get("Metadata", {})
            )
        )
    return out


def physical_ids(client: Any, stack: str) -> dict[str, str]:
    """Logical id -> physical id of a deployed stack; empty when it does not exist."""
    try:
        listed = client.describe_stack_resources(StackName=stack)["StackResources"]
    except client.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return {}
        raise
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in listed}


def leftovers(
    templates: Sequence[StackTemplate], client_for: Callable[[str], Any]
) -> list[Leftover]:
    """Every retained resource of ``templates``, with its physical id where deployed."""
    out = []
    for stack in templates:
        retained = {
            logical_id: resource
            for logical_id, resource in stack.resources.items()
            if resource.get("DeletionPolicy") in RETAINED
        }
        if not retained:
            continue
        ids = physical_ids(client_for(stack.region), stack.name)
        for logical_id, resource in sorted(retained.items()):
            # A declaration (gptoss_infra.rehearsal.intent.retain_on_purpose) says why.
            declared = resource.get("Metadata", {}).get(DECLARATION) or {}
            why = (
                f"kept on purpose: {declared['reason']}"
                if declared.get("reason")
                else f"DeletionPolicy {resource['DeletionPolicy']}"
            )
            out.append(
                Leftover(
                    stack=stack.name,
                    logical_id=logical_id,
                    resource_type=resource["Type"],
                    region=stack.region,
                    physical_id=ids.get(logical_id),
                    why=why,
                )
            )
    return out


def render(found: Sequence[Leftover], templates: Sequence[StackTemplate]) -> str:
    lines = ["After `cdk destroy`, these remain (and may be billed):"]
    if not found:
        lines.append("  no resource of these stacks is retained")
    for item in found:
        where = item.physical_id or "-"
        lines.append(f"  {item.resource_type} {where} ({item.stack}/{item.logical_id}, {item.why})")
        lines.append(f"      delete: {item.command}")
    builds_image = any(
        r.get("Type") == "Custom::GptOssImageReady" for t in templates for r in t.resources.values()
    )
    if builds_image:
        region = next(t.region for t in templates)
        lines += [
            "  ECR pull-through cache rule 'docker-hub' and its cached repositories "
            "(created by the image build if the registry had none; shared by every environment "
            "of this account and Region, so never deleted here)",
            "      delete, when no environment needs it: aws ecr delete-pull-through-cache-rule "
            f"--ecr-repository-prefix docker-hub --region {region}",
            "  Your Docker Hub secret (ecr-pullthroughcache/...) in Secrets Manager is yours: "
            "delete it with aws secretsmanager delete-secret when you no longer need it",
        ]
    return "\n".join(lines)


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker of ``bucket``; returns how many."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        batch = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if batch:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            deleted += len(batch)
    return deleted


def main(argv: Sequence[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(prog="python -m gptoss_infra.teardown", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="list what `cdk destroy` will leave behind")
    report.add_argument("assembly", nargs="?", default="cdk.out")
    stacks = commands.add_parser("stacks", help="the environment's stack names, one line each")
    stacks.add_argument("assembly", nargs="?", default="cdk.out")
    stacks.add_argument("--endpoint-only", action="store_true")
    empty = commands.add_parser("empty-bucket", help="delete every version of every object")
    empty.add_argument("bucket")
    empty.add_argument("--region", required=True)
    args = parser.parse_args(argv)
    if args.command == "empty-bucket":
        s3 = boto3.client("s3", region_name=args.region)
        print(f"deleted {empty_bucket(s3, args.bucket)} object versions from {args.bucket}")
        return 0
    assembly = Path(args.assembly)
    if not (assembly / "manifest.json").is_file():
        print(f"no cloud assembly in {assembly}: run `make synth` first", file=sys.stderr)
        return 2
    templates = read_templates(assembly)
    if args.command == "stacks":
        print("\n".join(environment_stacks(templates, args.endpoint_only)))
        return 0
    templates = [t for t in templates if not t.shared]
    found = leftovers(templates, lambda region: boto3.client("cloudformation", region_name=region))
    print(render(found, templates))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
