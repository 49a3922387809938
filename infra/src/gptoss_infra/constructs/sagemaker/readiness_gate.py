"""A custom resource that exists only once a CodeBuild build's result is in place and verified.

CloudFormation creates a resource only after everything it references exists, so a model
whose image URI or weights URI is an attribute of a gate (Fn::GetAtt, or an export of one)
is created only after the gate succeeded. The gate runs ``build_gate.on_event`` /
``build_gate.is_complete`` under the CDK Provider framework: the framework's Step Functions
waiter asks ``is_complete`` every ``query_interval`` until the build ends.

Time limits (the shortest wins):
- a custom resource operation: ``ServiceTimeout`` "must be an integer from 1 to 3600. The
  default value is 3600 seconds (1 hour)" (CloudFormation user guide,
  AWS::CloudFormation::CustomResource); the gate sets the maximum;
- the Provider framework's ``totalTimeout``: "The maximum timeout is 1 hour" (aws-cdk-lib
  custom_resources.ProviderProps); default here 55 minutes, so the framework reports its
  own timeout before CloudFormation's;
- the CodeBuild project's ``timeoutInMinutes`` (5-2160, CodeBuild CreateProject API): the
  constructs that use a gate set it below the gate's, so a slow build ends as a CodeBuild
  TIMED_OUT with its logs link instead of a bare CloudFormation timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CfnResource, CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from .._common import PropErrors, acknowledge

HANDLER_DIR = Path(__file__).parent
HANDLER_FILES = ("build_gate.py", "mirror_verify.py")
GATE_TYPES = ("Custom::GptOssWeightsReady", "Custom::GptOssImageReady")
MAX_GATE_TIME = Duration.hours(1)  # ServiceTimeout 3600 s and Provider totalTimeout 1 h
DEFAULT_GATE_TIME = Duration.minutes(55)
DEFAULT_QUERY_INTERVAL = Duration.seconds(30)
# Python runtime of the handlers (boto3 is part of the Lambda Python runtime).
RUNTIME = lambda_.Runtime.PYTHON_3_14


def _for_packs(rule: str, reason: str) -> list[tuple[str, str]]:
    return [(f"{pack}-{rule}", reason) for pack in ("NIST.800.53.R5", "HIPAA.Security")]


# Findings on what the Provider framework and the gate's own handlers are, whatever the gate.
_FRAMEWORK_FINDINGS = [
    (
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AWSLambdaBasicExecutionRole]",
        "The Provider framework's own functions (aws-cdk-lib custom_resources) use "
        "AWSLambdaBasicExecutionRole: CloudWatch Logs writes only.",
    ),
    (
        "AwsSolutions-SF1",
        "The Provider framework's waiter only re-invokes isComplete; its progress and "
        "failures are in the handlers' encrypted log groups and the stack events.",
    ),
    (
        "AwsSolutions-SF2",
        "The waiter runs a few times per deployment; X-Ray traces of it would show "
        "only the Lambda invocations already logged.",
    ),
    *_for_packs(
        "IAMNoInlinePolicy",
        "The handlers' and the Provider framework's roles carry policies that name "
        "only this gate's functions, project, prefix or repository; each belongs to "
        "one role and is deleted with it.",
    ),
    *_for_packs(
        "LambdaInsideVPC",
        "The gate handlers call only AWS control-plane APIs (CodeBuild, S3 listing, "
        "ECR DescribeImages) during deployments; they handle no data and need no VPC.",
    ),
    *_for_packs(
        "LambdaConcurrency",
        "Invoked by the Provider framework a few times per deployment; a reserved "
        "concurrency limit would protect nothing.",
    ),
    *_for_packs(
        "LambdaDLQ",
        "Invoked synchronously by the Provider framework, which fails the "
        "CloudFormation resource on an error; there is no asynchronous event to "
        "dead-letter.",
    ),
]


class ReadinessGate(Construct):
    """``resource_type`` created once ``project``'s build has produced a verified result.

    :param resource_type: one of ``Custom::GptOssWeightsReady`` / ``Custom::GptOssImageReady``
        (required; the deployment rehearsal looks for these types).
    :param properties: the handler's ResourceProperties (``Kind`` and its fields; required).
    :param project: the CodeBuild project to start. Default: none (only verify).
    :param build_logs: the project's log group; the gate reads a failed build's last lines
        into its error, because a rolled-back first deploy deletes the group. Default: none.
    :param total_timeout: how long the gate waits, at most 1 hour. Default: 55 minutes.
    :param query_interval: between two checks of the build. Default: 30 seconds.
    :param log_retention: of the handlers' and the framework's log groups. Default: one year.
    :param encryption_key: KMS key of those log groups; its policy must let CloudWatch Logs
        use it for this stack's groups (``allow_log_encryption``). Default: none (refused by
        the NIST and HIPAA packs: give one).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        resource_type: str,
        properties: Mapping[str, Any],
        project: codebuild.IProject | None = None,
        build_logs: logs.ILogGroup | None = None,
        total_timeout: Duration = DEFAULT_GATE_TIME,
        query_interval: Duration = DEFAULT_QUERY_INTERVAL,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        problems = PropErrors("ReadinessGate props")
        problems.check(resource_type in GATE_TYPES, f"resource_type must be one of {GATE_TYPES}")
        problems.check(
            total_timeout.to_seconds() <= MAX_GATE_TIME.to_seconds(),
            f"total_timeout is {total_timeout.to_minutes()} minutes; a custom resource "
            "operation and the Provider framework stop at 60",
        )
        problems.raise_if_any()

        self.role = iam.Role(
            self,
            "HandlerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{resource_type} gate handlers",
        )
        functions = self._handlers(resource_type, log_retention, encryption_key)
        self._grant_build_reads(project, build_logs)
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=functions["on_event"],
            is_complete_handler=functions["is_complete"],
            query_interval=query_interval,
            total_timeout=total_timeout,
            log_group=self._log_group("FrameworkLogs", log_retention, encryption_key),
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.provider.service_token,
            resource_type=resource_type,
            properties=dict(properties),
            service_timeout=MAX_GATE_TIME,
        )
        self._acknowledge()

    def _log_group(
        self, construct_id: str, retention: logs.RetentionDays, key: kms.IKey | None
    ) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            construct_id,
            retention=retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _handlers(
        self, resource_type: str, retention: logs.RetentionDays, key: kms.IKey | None
    ) -> dict[str, lambda_.Function]:
        """The on_event and is_complete functions of build_gate.py, each with its log group."""
        code = lambda_.Code.from_asset(
            str(HANDLER_DIR), exclude=["*", *(f"!{name}" for name in HANDLER_FILES)]
        )
        functions = {}
        for name in ("on_event", "is_complete"):
            handler_logs = self._log_group(f"{name}Logs", retention, key)
            functions[name] = lambda_.Function(
                self,
                name,
                runtime=RUNTIME,
                handler=f"build_gate.{name}",
                code=code,
                role=self.role,
                timeout=Duration.minutes(2),
                memory_size=256,
                log_group=handler_logs,
                description=f"{resource_type}: {name}",
            )
            handler_logs.grant_write(self.role)
        return functions

    def _grant_build_reads(
        self, project: codebuild.IProject | None, build_logs: logs.ILogGroup | None
    ) -> None:
        """Start and watch the build, and read a failed build's log lines."""
        if project is not None:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                    resources=[project.project_arn],
                )
            )
        self._build_logs = build_logs
        if build_logs is not None:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["logs:GetLogEvents"], resources=[build_logs.log_group_arn]
                )
            )

    def attribute(self, name: str) -> str:
        """``Fn::GetAtt`` of one attribute the handler returns in ``Data``."""
        return self.resource.get_att_string(name)

    def _acknowledge(self) -> None:
        stack = Stack.of(self)
        functions = [c for c in self.node.find_all() if isinstance(c, lambda_.Function)]
        for function in functions:
            _drop_redundant_role_dependency(function.node.default_child, function.role)
        # The Provider's waiter (custom_resources.WaiterStateMachine) and its "Role".
        waiter = self.provider.node.try_find_child("waiter-state-machine")
        if waiter is not None:
            role = waiter.node.try_find_child("Role")
            _drop_redundant_role_dependency(
                waiter.node.default_child, role if isinstance(role, iam.Role) else None
            )
        findings = [
            (
                f"AwsSolutions-IAM5[Resource::<{stack.resolve(stack.get_logical_id(f.node.default_child))}.Arn>:*]",  # type: ignore[arg-type]
                "The Provider framework's roles may invoke its functions and their versions "
                "(lambda:InvokeFunction on '<arn>:*' as aws-cdk-lib grants it); nothing else.",
            )
            for f in functions
        ]
        if self._build_logs is not None:
            group = self._build_logs.node.default_child
            group_id = stack.resolve(stack.get_logical_id(group))  # type: ignore[arg-type]
            findings.append(
                (
                    f"AwsSolutions-IAM5[Resource::<{group_id}.Arn>]",
                    "A log group's ARN ends in ':*' (its streams); the gate reads the stream of "
                    "the one build it started, named by CodeBuild at run time.",
                )
            )
        acknowledge(self, [*findings, *_FRAMEWORK_FINDINGS])


def _drop_redundant_role_dependency(resource: object, role: iam.IRole | None) -> None:
    """aws-cdk-lib makes a function (and the waiter) depend on its role and the role's
    default policy. The role is already referenced (Fn::GetAtt), so that entry is redundant
    (cfn-lint W3005); the policy stays, so nothing runs before its permissions exist."""
    if not isinstance(resource, CfnResource) or role is None:
        return
    stack = Stack.of(resource)
    policy = role.node.try_find_child("DefaultPolicy")
    policy_resource = policy.node.default_child if policy is not None else None
    if isinstance(policy_resource, CfnResource):
        resource.add_override("DependsOn", [stack.resolve(stack.get_logical_id(policy_resource))])
    else:
        resource.add_deletion_override("DependsOn")
