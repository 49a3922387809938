"""Shared checks for every infra test: cdk-nag packs, cfn-lint, and a deployment into moto.

- :func:`nag_findings` runs AwsSolutions, NIST 800-53 R5, HIPAA Security and our
  ``GptOssNagPack`` over a construct tree and returns the findings nobody acknowledged.
- :func:`cfn_lint` lints a synthesized template with cfn-lint's Python API (errors and
  warnings; the tests expect none).
- :func:`deploy_to_moto` creates the template as a stack in moto's CloudFormation and
  describes what it created.

Nothing here calls AWS: nag and cfn-lint are offline, and moto's ``mock_aws`` intercepts
every boto3 call (it also sets fake credentials).
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import boto3
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NagPack, NIST80053R5Checks
from cfnlint.api import ManualArgs, lint  # type: ignore[import-untyped]
from constructs import IConstruct
from moto import mock_aws
from moto.cloudformation.parsing import NULL_MODELS, get_model_map
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.kms.models import kms_backends
from moto.sagemaker.models import FakeEndpointConfig

from gptoss_infra.nag import GptOssNagPack

# ---------------------------------------------------------------------------------------
# cdk-nag


@dataclass(frozen=True)
class Finding:
    """One unacknowledged cdk-nag finding."""

    rule_id: str  # e.g. "AwsSolutions-IAM5[Resource::*]" or "GPTOSS-SM1"
    path: str  # construct path of the CfnResource, e.g. "Stack/Model/Resource"
    message: str  # the rule's info line
    severity: str  # "error" or "warning"
    pack: str  # the pack's name, e.g. "AwsSolutions"

    def __str__(self) -> str:
        return f"{self.rule_id} at {self.path}: {self.message}"


PackFactory = Callable[[], NagPack]
DEFAULT_PACKS: tuple[PackFactory, ...] = (
    AwsSolutionsChecks,
    NIST80053R5Checks,
    HIPAASecurityChecks,
    GptOssNagPack,
)


def nag_findings(
    scope: IConstruct, *, packs: Sequence[PackFactory] = DEFAULT_PACKS
) -> list[Finding]:
    """Findings of every pack on ``scope`` (an App, a Stack or any construct) that are not
    acknowledged with ``Validations.of(construct).acknowledge(...)``.

    Uses cdk-nag 3's ``validate_scope``, its documented entry point for tests: it walks the
    construct tree without synthesizing, so a failing rule does not stop the listing (and
    an app whose plugins are registered is not synthesized twice).
    """
    findings: list[Finding] = []
    for make_pack in packs:
        pack = make_pack()
        report = pack.validate_scope(scope)
        for violation in report.violations:
            for resource in violation.violating_resources:
                findings.append(
                    Finding(
                        rule_id=violation.rule_name,
                        path=resource.construct_path or "",
                        message=violation.description,
                        severity=str(violation.severity),
                        pack=pack.name,
                    )
                )
    return sorted(findings, key=lambda f: (f.path, f.rule_id))


@dataclass(frozen=True)
class AcknowledgedFinding:
    """A finding acknowledged on a construct (and so on everything under it)."""

    path: str
    rule_id: str
    reason: str


def acknowledgements(scope: IConstruct) -> list[AcknowledgedFinding]:
    """Every ``Validations.of(...).acknowledge`` under ``scope``, with its reason (for the
    docs' list of accepted findings). CDK stores them as construct metadata, keyed by
    ``Annotation::<rule id>`` (aws-cdk-lib >= 2.262)."""
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = []
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key and isinstance(entry.data, dict):
                for rule, reason in entry.data.items():
                    rule_id = (
                        rule.split("::", 1)[1] if rule.lower().startswith("annotation::") else rule
                    )
                    found.append(AcknowledgedFinding(construct.node.path, rule_id, str(reason)))
    return sorted(found, key=lambda a: (a.path, a.rule_id))


def new_stack(name: str = "Test", **props: Any) -> cdk.Stack:
    """An environment-agnostic stack in a fresh app (what ``cdk synth`` does offline)."""
    return cdk.Stack(cdk.App(), name, **props)


# ---------------------------------------------------------------------------------------
# cfn-lint

LINT_REGIONS = ("us-east-1", "us-west-2")


def template_of(stack: cdk.Stack) -> dict[str, Any]:
    """The stack's synthesized CloudFormation template."""
    return dict(cdk.assertions.Template.from_stack(stack).to_json())


def cfn_lint(
    template: Mapping[str, Any] | Path,
    *,
    regions: Sequence[str] = LINT_REGIONS,
    ignore_checks: Sequence[str] = (),
) -> list[str]:
    """cfn-lint errors and warnings (not informational) as ``"<rule> <message> (...)"``.

    Linted in us-east-1 and us-west-2 by default: where Bedrock's gpt-oss runs and the
    SageMaker GPU instances exist; a resource or enum missing in either is reported.
    """
    text = (
        template.read_text(encoding="utf-8") if isinstance(template, Path) else json.dumps(template)
    )
    config = ManualArgs(regions=list(regions), ignore_checks=list(ignore_checks))
    matches = lint(text, config=config)
    lines = []
    for match in matches:
        where = getattr(match, "path", None)
        location = "/".join(str(p) for p in where) if where else f"line {match.linenumber}"
        lines.append(f"{match.rule.id} {match.message} ({location})")
    return lines


# ---------------------------------------------------------------------------------------
# moto

# moto 5.2.5 validates ProductionVariants[].InstanceType against a list frozen years ago
# (FakeEndpointConfig.validate_instance_type in moto/sagemaker/models.py): it stops at
# p3/g4dn, so every GPU type gpt-oss needs (p4d, p5, g5, g6, g6e, g7e) is refused with a
# ValidationError that real SageMaker would not raise. The list is a local variable of the
# method, so the harness wraps the method: these families pass, everything else still goes
# through moto's own check. Types from the SageMaker hosting pricing page and the
# CreateEndpointConfig API enum (ProductionVariantInstanceType).
EXTRA_SAGEMAKER_INSTANCE_TYPES = frozenset(
    {
        "ml.p4d.24xlarge",
        "ml.p4de.24xlarge",
        "ml.p5.4xlarge",
        "ml.p5.48xlarge",
        "ml.p5e.48xlarge",
        "ml.p5en.48xlarge",
        *(
            f"ml.g5.{size}"
            for size in (
                "xlarge",
                "2xlarge",
                "4xlarge",
                "8xlarge",
                "12xlarge",
                "16xlarge",
                "24xlarge",
                "48xlarge",
            )
        ),
        *(
            f"ml.g6.{size}"
            for size in (
                "xlarge",
                "2xlarge",
                "4xlarge",
                "8xlarge",
                "12xlarge",
                "16xlarge",
                "24xlarge",
                "48xlarge",
            )
        ),
        *(
            f"ml.g6e.{size}"
            for size in (
                "xlarge",
                "2xlarge",
                "4xlarge",
                "8xlarge",
                "12xlarge",
                "16xlarge",
                "24xlarge",
                "48xlarge",
            )
        ),
        *(
            f"ml.g7e.{size}"
            for size in ("2xlarge", "4xlarge", "8xlarge", "12xlarge", "24xlarge", "48xlarge")
        ),
    }
)


@contextlib.contextmanager
def moto_gpu_instance_types() -> Iterator[None]:
    """Let moto's SageMaker accept the GPU instance types above (see the comment there)."""
    original = FakeEndpointConfig.validate_instance_type

    def validate(self: FakeEndpointConfig, instance_type: str) -> None:
        if instance_type not in EXTRA_SAGEMAKER_INSTANCE_TYPES:
            original(self, instance_type)

    FakeEndpointConfig.validate_instance_type = validate  # type: ignore[method-assign]
    try:
        yield
    finally:
        FakeEndpointConfig.validate_instance_type = original  # type: ignore[method-assign]


# Resources the harness removes before deploying, with why:
# - Custom::* / AWS::CloudFormation::CustomResource: moto would invoke the provider Lambda
#   in Docker and wait for its response.
# - AWS::Lambda::Function: its code is a CDK asset in the bootstrap bucket, which does not
#   exist in moto.
# - AWS::CDK::Metadata: CDK's usage metadata, not a resource.
# - types moto's CloudFormation does not implement (Bedrock, Budgets, ...): moto skips them
#   but then fails on the first Fn::GetAtt that names one ("references undefined resource").
# Every Ref / Fn::GetAtt to a removed resource becomes an ARN-shaped placeholder,
# "arn:aws:removed-by-harness:::<id>" (moto validates ARNs in IAM policies), and it is
# dropped from DependsOn.
REMOVED_TYPES = (
    "AWS::CloudFormation::CustomResource",
    "AWS::Lambda::Function",
    "AWS::CDK::Metadata",
)
REMOVED = "REMOVED_BY_HARNESS"
NOT_IN_MOTO = "NOT_IN_MOTO"


def _removal_status(resource_type: str) -> str | None:
    if resource_type.startswith("Custom::") or resource_type in REMOVED_TYPES:
        return REMOVED
    if resource_type not in get_model_map() or resource_type in NULL_MODELS:
        return NOT_IN_MOTO
    return None


def _placeholder(logical_id: str) -> str:
    return f"arn:aws:removed-by-harness:::{logical_id}"


def _replace_refs(value: Any, gone: set[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in gone:
            return _placeholder(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            logical = target[0] if isinstance(target, list) else str(target).split(".")[0]
            if logical in gone:
                return _placeholder(logical)
        return {key: _replace_refs(item, gone) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_refs(item, gone) for item in value]
    return value


def _work_around_moto(resource: dict[str, Any]) -> None:
    """moto 5.2.5 creates an AWS::KMS::Key from CloudFormation by handing the template's
    Tags ({Key, Value}) to the KMS tagger, which reads {TagKey, TagValue} (the KMS API's
    shape) and fails with KeyError 'TagKey' -- reported as "Fn::GetAtt references undefined
    resource". Rename the tag fields, so the key is created with its tags."""
    if resource["Type"] == "AWS::KMS::Key":
        tags = resource.get("Properties", {}).get("Tags")
        if isinstance(tags, list):
            resource["Properties"]["Tags"] = [
                {"TagKey": tag.get("Key"), "TagValue": tag.get("Value")} for tag in tags
            ]


def _serialize_kms_policies(region: str) -> None:
    """moto 5.2.5 stores a CloudFormation key's KeyPolicy as the template's object, then
    every KMS call on the key fails in json.loads (it expects the API's JSON string).
    Serialize the resolved policies in moto's backend."""
    for key in kms_backends[DEFAULT_ACCOUNT_ID][region].keys.values():
        if isinstance(key.policy, dict):
            key.policy = json.dumps(key.policy)


def moto_template(
    template: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """The template moto can create, and the removed resources (id -> (type, status))."""
    out: dict[str, Any] = copy.deepcopy(dict(template))
    # CDK's bootstrap check reads an SSM parameter that only `cdk bootstrap` creates.
    parameters = out.get("Parameters", {})
    parameters.pop("BootstrapVersion", None)
    if not parameters:
        out.pop("Parameters", None)
    rules = out.get("Rules", {})
    rules.pop("CheckBootstrapVersion", None)
    if not rules:
        out.pop("Rules", None)
    resources: dict[str, Any] = out.get("Resources", {})
    removed = {
        lid: (r["Type"], status)
        for lid, r in resources.items()
        if (status := _removal_status(r["Type"])) is not None
    }
    for logical_id in removed:
        del resources[logical_id]
    gone = set(removed)
    for resource in resources.values():
        depends = resource.get("DependsOn")
        if isinstance(depends, str):
            depends = [depends]
        if depends is not None:
            kept = [d for d in depends if d not in gone]
            if kept:
                resource["DependsOn"] = kept
            else:
                resource.pop("DependsOn")
    for resource in resources.values():
        _work_around_moto(resource)
    out["Resources"] = _replace_refs(resources, gone)
    if "Outputs" in out:
        out["Outputs"] = _replace_refs(out["Outputs"], gone)
    return out, removed


def _describe_policy(client_for: Callable[[str], Any], arn: str) -> Any:
    iam = client_for("iam")
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    return {**policy, "Document": version["PolicyVersion"]["Document"]}


# resource type -> the service's own description of the created resource.
DESCRIBERS: dict[str, Callable[[Callable[[str], Any], str], Any]] = {
    "AWS::SageMaker::Model": lambda c, pid: c("sagemaker").describe_model(
        ModelName=pid.split("/")[-1]
    ),
    "AWS::SageMaker::EndpointConfig": lambda c, pid: c("sagemaker").describe_endpoint_config(
        EndpointConfigName=pid.split("/")[-1]
    ),
    "AWS::SageMaker::Endpoint": lambda c, pid: c("sagemaker").describe_endpoint(
        EndpointName=pid.split("/")[-1]
    ),
    "AWS::DynamoDB::Table": lambda c, pid: c("dynamodb").describe_table(TableName=pid)["Table"],
    "AWS::SNS::Topic": lambda c, pid: c("sns").get_topic_attributes(TopicArn=pid)["Attributes"],
    "AWS::KMS::Key": lambda c, pid: {
        **c("kms").describe_key(KeyId=pid)["KeyMetadata"],
        "KeyRotationEnabled": c("kms").get_key_rotation_status(KeyId=pid)["KeyRotationEnabled"],
    },
    "AWS::Logs::LogGroup": lambda c, pid: next(
        (
            g
            for g in c("logs").describe_log_groups(logGroupNamePrefix=pid)["logGroups"]
            if g["logGroupName"] == pid
        ),
        None,
    ),
    "AWS::IAM::Role": lambda c, pid: c("iam").get_role(RoleName=pid)["Role"],
    "AWS::IAM::ManagedPolicy": _describe_policy,
}


def deploy_to_moto(
    template: Mapping[str, Any], stack_name: str, *, region: str = "us-east-1"
) -> dict[str, dict[str, Any]]:
    """Create ``template`` as stack ``stack_name`` in moto's CloudFormation.

    Returns logical id -> ``{"Type", "Status", "PhysicalResourceId", "Description"}``;
    ``Description`` holds the service's own answer (see ``DESCRIBERS``: SageMaker model,
    endpoint config and endpoint, DynamoDB table, SNS topic, KMS key, log group, IAM role
    and managed policy), so tests check what was *created*, not what the template said.
    Resources the harness removed have Status ``REMOVED_BY_HARNESS`` and types moto does
    not implement ``NOT_IN_MOTO`` (both are left out of the stack, see ``REMOVED_TYPES``).

    Runs inside its own ``mock_aws()``; inside a caller's ``mock_aws()`` the nested mock
    keeps the state, so the caller can inspect the resources afterwards with boto3.
    Raises ``RuntimeError`` with the stack events when creation fails.
    """
    body, removed = moto_template(template)
    with mock_aws(), moto_gpu_instance_types():
        session = boto3.session.Session(region_name=region)
        client_for: Callable[[str], Any] = cast(Any, session).client
        cloudformation = session.client("cloudformation")
        try:
            cloudformation.create_stack(StackName=stack_name, TemplateBody=json.dumps(body))
        except Exception as error:  # moto raises the model's error from inside create_stack
            raise RuntimeError(f"moto could not create {stack_name}: {error}") from error
        _serialize_kms_policies(region)
        status: str = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0][
            "StackStatus"
        ]
        if status != "CREATE_COMPLETE":
            events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
            reasons = [e.get("ResourceStatusReason", "") for e in events]
            raise RuntimeError(f"{stack_name} ended in {status}: {reasons}")
        described: dict[str, dict[str, Any]] = {}
        listed = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        for item in listed:
            physical = item.get("PhysicalResourceId", "")
            describe = DESCRIBERS.get(item["ResourceType"])
            described[item["LogicalResourceId"]] = {
                "Type": item["ResourceType"],
                "Status": item["ResourceStatus"],
                "PhysicalResourceId": physical,
                "Description": describe(client_for, physical) if describe else None,
            }
    for logical_id, (resource_type, status) in removed.items():
        described[logical_id] = {
            "Type": resource_type,
            "Status": status,
            "PhysicalResourceId": None,
            "Description": None,
        }
    return described
