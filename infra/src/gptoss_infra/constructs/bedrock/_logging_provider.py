"""The custom resource behind InvocationLogging: an AwsCustomResource whose singleton
provider function calls Bedrock's Put/DeleteModelInvocationLoggingConfiguration, with the
managed policy and role it runs with and the findings its function raises."""

from __future__ import annotations

from aws_cdk import CfnResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from .._common import acknowledge

# The AwsCustomResource provider is a singleton Lambda function per stack, with this id
# (aws-cdk-lib custom-resources: lambdaPurpose "AWS" + PROVIDER_FUNCTION_UUID).
_PROVIDER_ID = "AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", "")

_PROVIDER_ACKS = (
    (
        "NIST.800.53.R5-LambdaInsideVPC",
        "The AwsCustomResource provider only calls the Bedrock control-plane API "
        "(Put/DeleteModelInvocationLoggingConfiguration) during deployments; it handles no "
        "data and needs no VPC.",
    ),
    (
        "HIPAA.Security-LambdaInsideVPC",
        "The AwsCustomResource provider only calls the Bedrock control-plane API during "
        "deployments; it handles no PHI and needs no VPC.",
    ),
    (
        "NIST.800.53.R5-LambdaConcurrency",
        "Invoked by CloudFormation once per create/update/delete of the stack; a reserved "
        "concurrency limit would protect nothing.",
    ),
    (
        "HIPAA.Security-LambdaConcurrency",
        "Invoked by CloudFormation once per create/update/delete of the stack; a reserved "
        "concurrency limit would protect nothing.",
    ),
    (
        "NIST.800.53.R5-LambdaDLQ",
        "Invoked synchronously by CloudFormation, which reports a failed call as a failed "
        "stack operation; there is no asynchronous event to dead-letter.",
    ),
    (
        "HIPAA.Security-LambdaDLQ",
        "Invoked synchronously by CloudFormation, which reports a failed call as a failed "
        "stack operation; there is no asynchronous event to dead-letter.",
    ),
)


def _provider_access(
    scope: Construct, provider_logs: logs.LogGroup, logging_role: iam.IRole | None
) -> tuple[iam.ManagedPolicy, iam.Role]:
    """The custom resource's role: configure logging, write its own logs, pass ours."""
    statements = [
        iam.PolicyStatement(
            sid="ConfigureModelInvocationLogging",
            actions=[
                "bedrock:PutModelInvocationLoggingConfiguration",
                "bedrock:DeleteModelInvocationLoggingConfiguration",
            ],
            # Neither action supports resource-level permissions (Service
            # Authorization Reference, Amazon Bedrock: no resource type).
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="WriteProviderLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[provider_logs.log_group_arn],
        ),
    ]
    if logging_role is not None:
        statements.append(
            iam.PolicyStatement(
                sid="PassLoggingRoleToBedrock",
                actions=["iam:PassRole"],
                resources=[logging_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            )
        )
    provider_policy = iam.ManagedPolicy(
        scope,
        "ProviderPolicy",
        description="Turns Bedrock model invocation logging on and off",
        statements=statements,
    )
    provider_role = iam.Role(
        scope,
        "ProviderRole",
        description="Runs the custom resource that configures Bedrock invocation logging",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=[provider_policy],
    )
    acknowledge(
        provider_policy,
        [
            (
                "AwsSolutions-IAM5[Resource::*]",
                "bedrock:PutModelInvocationLoggingConfiguration and "
                "DeleteModelInvocationLoggingConfiguration have no resource type; IAM "
                "accepts only '*' for them (Service Authorization Reference, Amazon Bedrock).",
            )
        ],
    )
    return provider_policy, provider_role


def configuration_resource(
    scope: Construct,
    logging_config: dict[str, object],
    provider_logs: logs.LogGroup,
    logging_role: iam.IRole | None,
) -> cr.AwsCustomResource:
    """The AwsCustomResource that puts ``logging_config`` on create and update and deletes
    the configuration on delete; its provider logs to ``provider_logs`` and may pass
    ``logging_role`` to Bedrock."""
    stack = Stack.of(scope)
    provider_policy, provider_role = _provider_access(scope, provider_logs, logging_role)
    call = cr.AwsSdkCall(
        service="bedrock",
        action="PutModelInvocationLoggingConfiguration",
        parameters={"loggingConfig": logging_config},
        physical_resource_id=cr.PhysicalResourceId.of(f"bedrock-invocation-logging-{stack.region}"),
    )
    resource = cr.AwsCustomResource(
        scope,
        "Configuration",
        on_create=call,
        on_update=call,
        on_delete=cr.AwsSdkCall(
            service="bedrock", action="DeleteModelInvocationLoggingConfiguration"
        ),
        role=provider_role,
        log_group=provider_logs,
        timeout=Duration.minutes(2),
        # The Lambda runtime's SDK has the bedrock client; no npm install at deploy time.
        install_latest_aws_sdk=False,
    )
    # The provider's permissions come from a managed policy, which the custom resource
    # does not reference: order it explicitly.
    resource.node.add_dependency(provider_policy)
    provider = stack.node.try_find_child(_PROVIDER_ID)
    principal = resource.grant_principal
    if principal is not provider_role and hasattr(principal, "add_managed_policy"):
        # Another AwsCustomResource created the stack's singleton provider first, with
        # its own role: give that role our permissions too.
        principal.add_managed_policy(provider_policy)
    elif provider is not None and isinstance(provider.node.default_child, CfnResource):
        # aws-lambda's Function makes itself depend on its role (to wait for the role's
        # inline default policy). Ours has none and the role is already referenced
        # (Fn::GetAtt Role), so the DependsOn is redundant (cfn-lint W3005).
        provider.node.default_child.add_deletion_override("DependsOn")
    if provider is not None:
        acknowledge(provider, _PROVIDER_ACKS)
    return resource
