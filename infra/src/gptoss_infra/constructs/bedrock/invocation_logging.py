"""Bedrock model invocation logging through a custom resource (no CloudFormation type exists).

Bedrock has no ``AWS::Bedrock::...`` resource for model invocation logging (aws-cdk issue
#31478), so an ``AwsCustomResource`` calls ``PutModelInvocationLoggingConfiguration`` on
create and update and ``DeleteModelInvocationLoggingConfiguration`` on delete.

The setting is **per account and Region** (Bedrock user guide, "Monitor model invocation
using CloudWatch Logs and Amazon S3", model-invocation-logging): one configuration covers
every Bedrock call in the Region, whoever makes it, and a second stack that sets it
overwrites the first; deleting either stack turns logging off for both. Deploy this
construct once per account and Region. Destinations must be in the same account and Region.

Destinations and the permissions they need (same user guide page):

- CloudWatch Logs: Bedrock assumes a service role (trust ``bedrock.amazonaws.com``, limited
  with ``aws:SourceAccount`` and ``aws:SourceArn``) allowed ``logs:CreateLogStream`` and
  ``logs:PutLogEvents`` on the stream ``aws/bedrock/modelinvocations`` of the log group.
  The group is encrypted with a KMS key whose policy lets ``logs.REGION.amazonaws.com`` use
  it for that group only (``kms:EncryptionContext:aws:logs:arn``; CloudWatch Logs user guide
  "Encrypt log data in CloudWatch Logs using AWS KMS"). Bodies over 100 KB and binary
  data go to the S3 bucket when one is given (``largeDataDeliveryS3Config``).
- S3: a bucket policy lets ``bedrock.amazonaws.com`` ``s3:PutObject`` under
  ``PREFIX/AWSLogs/ACCOUNT/BedrockModelInvocationLogs/``, with the same source conditions;
  for an SSE-KMS bucket the key policy lets Bedrock ``kms:GenerateDataKey``.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import Construct

from ...rehearsal.intent import declare_retained
from .._common import PropErrors, acknowledge, is_literal
from ._logging_provider import configuration_resource

# The log stream Bedrock writes to inside the configured log group (model-invocation-logging).
BEDROCK_LOG_STREAM = "aws/bedrock/modelinvocations"


class InvocationLogging(Construct):
    """Turn on Bedrock model invocation logging for this stack's account and Region.

    :param log_to_cloudwatch: deliver logs to an encrypted CloudWatch log group created
        here. Default: ``True``.
    :param bucket: an S3 bucket to deliver logs to (and large bodies, with CloudWatch).
        Its bucket policy (and key policy, for SSE-KMS) is extended here, so it must be
        a bucket of this app. Default: none.
    :param bucket_prefix: key prefix in ``bucket``. Default: ``"bedrock-invocation-logs"``.
    :param retention: how long the log group keeps events.
        Default: ``RetentionDays.ONE_YEAR`` (prompts and responses are audit records;
        NIST 800-53 and HIPAA packs require an explicit retention).
    :param encryption_key: key for the log group (and the provider function's logs).
        Default: a new key with rotation enabled.
    :param text_data: log request and response text. Default: ``True``.
    :param image_data: log image data. Default: ``False`` (gpt-oss is text only).
    :param embedding_data: log embeddings. Default: ``False`` (gpt-oss is text only).
    :param removal_policy: what happens to the log groups and key on stack deletion.
        Default: ``RemovalPolicy.RETAIN`` (audit records outlive the stack). The groups
        have fixed names (``/gptoss/<stack>/bedrock/...``, so the key policy can name
        them): delete a retained group before re-creating a deleted stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_to_cloudwatch: bool = True,
        bucket: s3.IBucket | None = None,
        bucket_prefix: str = "bedrock-invocation-logs",
        retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        encryption_key: kms.IKey | None = None,
        text_data: bool = True,
        image_data: bool = False,
        embedding_data: bool = False,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._check_props(
            log_to_cloudwatch, bucket, bucket_prefix, text_data or image_data or embedding_data
        )
        self.encryption_key: kms.IKey = encryption_key or kms.Key(
            self,
            "Key",
            description="Bedrock model invocation logs",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self._allow_logs_service(stack)
        self.bucket = bucket
        self.log_group: logs.LogGroup | None = None
        self.role: iam.Role | None = None

        logging_config: dict[str, object] = {
            "textDataDeliveryEnabled": text_data,
            "imageDataDeliveryEnabled": image_data,
            "embeddingDataDeliveryEnabled": embedding_data,
        }
        source_conditions = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {
                "aws:SourceArn": f"arn:{stack.partition}:bedrock:{stack.region}:{stack.account}:*"
            },
        }
        if bucket is not None:
            paths = [_join(bucket_prefix, f"AWSLogs/{stack.account}/BedrockModelInvocationLogs/*")]
            if log_to_cloudwatch:
                # Large bodies: the user guide does not say whether Bedrock writes them with
                # the role (granted below) or as the service; allow both, prefix-limited.
                paths.append(_join(bucket_prefix, "large-data/*"))
            self._allow_bedrock_on_bucket(bucket, paths, source_conditions)
            logging_config["s3Config"] = {
                "bucketName": bucket.bucket_name,
                "keyPrefix": bucket_prefix,
            }
        if log_to_cloudwatch:
            logging_config["cloudWatchConfig"] = self._cloudwatch_config(
                source_conditions, bucket, bucket_prefix, retention, removal_policy
            )

        self.custom_resource = self._custom_resource(
            stack, logging_config, retention, removal_policy
        )
        declare_retained(
            self,
            reason="Invocation logs are audit records of every Bedrock call in the account and "
            "region; they and the key that decrypts them outlive the account stack.",
        )

    def _check_props(
        self,
        log_to_cloudwatch: bool,
        bucket: s3.IBucket | None,
        bucket_prefix: str,
        any_data: bool,
    ) -> None:
        errors = PropErrors("InvocationLogging props")
        errors.check(
            log_to_cloudwatch or bucket is not None,
            "choose a destination: log_to_cloudwatch=True and/or a bucket",
        )
        errors.check(
            any_data,
            "text_data, image_data and embedding_data are all False: nothing would be logged",
        )
        if is_literal(bucket_prefix):
            errors.check(
                bucket_prefix == ""
                or not (bucket_prefix.startswith("/") or bucket_prefix.endswith("/")),
                f"bucket_prefix {bucket_prefix!r} must not start or end with '/'",
            )
        for other in _other_invocation_loggings(self):
            errors.add(
                f"{other.node.path} already configures invocation logging for the same "
                "account and Region (the setting is per account and Region: the second "
                "would overwrite the first, and deleting either turns logging off)"
            )
        errors.raise_if_any()

    def _cloudwatch_config(
        self,
        source_conditions: dict[str, Any],
        bucket: s3.IBucket | None,
        bucket_prefix: str,
        retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> dict[str, object]:
        """The log group and the role Bedrock writes to it with; bodies too large for a log
        event go to the bucket when there is one."""
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=self._log_group_name("model-invocations"),
            encryption_key=self.encryption_key,
            retention=retention,
            removal_policy=removal_policy,
        )
        self.role = self._logging_role(Stack.of(self), source_conditions, bucket, bucket_prefix)
        config: dict[str, object] = {
            "logGroupName": self.log_group.log_group_name,
            "roleArn": self.role.role_arn,
        }
        if bucket is not None:
            config["largeDataDeliveryS3Config"] = {
                "bucketName": bucket.bucket_name,
                "keyPrefix": _join(bucket_prefix, "large-data"),
            }
        return config

    def _log_group_name(self, suffix: str) -> str:
        # A literal name lets the key policy name the group without a dependency cycle.
        return f"/gptoss/{Stack.of(self).stack_name}/bedrock/{suffix}"

    def _log_group_arn(self, stack: Stack, name: str) -> str:
        return f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:{name}"

    def _allow_logs_service(self, stack: Stack) -> None:
        """CloudWatch Logs may use the key, for this construct's log groups only."""
        added = self.encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForBedrockInvocationLogs",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnEquals": {
                        "kms:EncryptionContext:aws:logs:arn": [
                            self._log_group_arn(stack, self._log_group_name("model-invocations")),
                            self._log_group_arn(stack, self._log_group_name("logging-provider")),
                        ]
                    }
                },
            )
        )
        if not added.statement_added:
            raise ValueError(
                "InvocationLogging could not let CloudWatch Logs use encryption_key (an "
                "imported key?); pass a key defined in this app, or none"
            )

    def _allow_bedrock_on_bucket(
        self, bucket: s3.IBucket, paths: list[str], conditions: dict[str, dict[str, str]]
    ) -> None:
        added = bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBedrockModelInvocationLogs",
                principals=[iam.ServicePrincipal("bedrock.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(path) for path in paths],
                conditions=conditions,
            )
        )
        if not added.statement_added:
            raise ValueError(
                "InvocationLogging could not add the Bedrock statement to the bucket policy "
                "(an imported bucket?); pass a bucket defined in this app"
            )
        if bucket.encryption_key is not None:
            bucket.encryption_key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowBedrockModelInvocationLogs",
                    principals=[iam.ServicePrincipal("bedrock.amazonaws.com")],
                    actions=["kms:GenerateDataKey"],
                    resources=["*"],
                    conditions=conditions,
                )
            )

    def _logging_role(
        self,
        stack: Stack,
        conditions: dict[str, dict[str, str]],
        bucket: s3.IBucket | None,
        prefix: str,
    ) -> iam.Role:
        """The role Bedrock assumes to write to the log group (and large bodies to S3)."""
        assert self.log_group is not None
        stream_arn = (
            f"{self._log_group_arn(stack, self._log_group_name('model-invocations'))}"
            f":log-stream:{BEDROCK_LOG_STREAM}"
        )
        statements = [
            iam.PolicyStatement(
                sid="WriteModelInvocationLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[stream_arn],
            )
        ]
        if bucket is not None:
            large = _join(prefix, "large-data/*")
            statements.append(
                iam.PolicyStatement(
                    sid="WriteLargeInvocationBodies",
                    actions=["s3:PutObject"],
                    resources=[bucket.arn_for_objects(large)],
                )
            )
            if bucket.encryption_key is not None:
                statements.append(
                    iam.PolicyStatement(
                        sid="EncryptLargeInvocationBodies",
                        actions=["kms:GenerateDataKey"],
                        resources=[bucket.encryption_key.key_arn],
                    )
                )
        policy = iam.ManagedPolicy(
            self,
            "LoggingPolicy",
            description="Bedrock writes model invocation logs",
            statements=statements,
        )
        role = iam.Role(
            self,
            "LoggingRole",
            description="Assumed by Amazon Bedrock to deliver model invocation logs",
            assumed_by=iam.ServicePrincipal("bedrock.amazonaws.com", conditions=conditions),
            managed_policies=[policy],
        )
        if bucket is not None:
            acknowledge(
                policy,
                [
                    (
                        f"AwsSolutions-IAM5[Resource::<{_logical_ref(stack, bucket)}.Arn>/{large}]",
                        "Bedrock names each large-body object itself; the grant is limited to "
                        "the large-data prefix of the log bucket.",
                    )
                ],
            )
        return role

    def _custom_resource(
        self,
        stack: Stack,
        logging_config: dict[str, object],
        retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> cr.AwsCustomResource:
        provider_logs = logs.LogGroup(
            self,
            "ProviderLogGroup",
            log_group_name=self._log_group_name("logging-provider"),
            encryption_key=self.encryption_key,
            retention=retention,
            removal_policy=removal_policy,
        )
        return configuration_resource(self, logging_config, provider_logs, self.role)


def _join(prefix: str, path: str) -> str:
    return f"{prefix}/{path}" if prefix else path


def _logical_ref(stack: Stack, bucket: s3.IBucket) -> str:
    """The logical id cdk-nag prints for ``Fn::GetAtt [bucket, Arn]``."""
    child = bucket.node.default_child
    if child is None:
        return bucket.node.id
    return stack.get_logical_id(child)  # type: ignore[arg-type]


def _other_invocation_loggings(self_: InvocationLogging) -> list[InvocationLogging]:
    """Other InvocationLogging constructs of the app that may target the same account and
    Region (same literal env, or both environment-agnostic)."""
    stack = Stack.of(self_)
    found: list[InvocationLogging] = []
    for node in self_.node.root.node.find_all():
        if isinstance(node, InvocationLogging) and node is not self_:
            other = Stack.of(node)
            if other.region == stack.region and other.account == stack.account:
                found.append(node)
    return found
