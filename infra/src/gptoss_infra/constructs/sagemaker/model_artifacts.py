"""The S3 bucket that holds the model weights, and the grants to read or write them.

SageMaker copies an uncompressed S3 prefix to /opt/ml/model before the container starts
(ModelDataSource.S3DataSource with S3DataType S3Prefix and CompressionType None; the
prefix must end in '/'). Uncompressed matters for a 61 GiB checkpoint: a model.tar.gz
would be unpacked on the instance, doubling the disk needed and adding minutes.
"""

from __future__ import annotations

import re

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from .._common import PropErrors, acknowledge

# S3 object keys are UTF-8; we keep prefixes to the "safe characters" of the S3 user
# guide (object-keys.html) so the URI needs no escaping anywhere it is written.
NONCURRENT_VERSION_EXPIRATION = Duration.days(30)
ACCESS_LOG_RETENTION = Duration.days(365)
_SAFE_PREFIX = re.compile(r"^[A-Za-z0-9!\-_.*'()/]+/$")


def validate_weights_prefix(problems: PropErrors, prefix: str) -> None:
    problems.check(
        bool(_SAFE_PREFIX.match(prefix)),
        f"weights_prefix {prefix!r} must be S3 'safe characters' ending in '/' "
        "(SageMaker reads an S3Prefix that ends in '/'), e.g. 'models/gpt-oss-120b/'",
    )
    problems.check(
        not prefix.startswith("/") and "//" not in prefix,
        f"weights_prefix {prefix!r} must not start with '/' or contain '//' "
        "(S3 keys would get an empty path segment)",
    )
    problems.check(
        ".." not in prefix.split("/"), f"weights_prefix {prefix!r} must not contain '..'"
    )


class _WeightsAccess:
    """Reading and writing the weights prefix, for a bucket defined here or imported."""

    bucket: s3.IBucket
    encryption_key: kms.IKey
    weights_prefix: str
    _s3_uri: str | None

    def use_ready_uri(self, uri: str) -> None:
        """Point the model data source at ``uri``: the attribute of the gate that verified
        the weights, so whatever reads it is created after the gate."""
        self._s3_uri = uri

    @property
    def weights_s3_uri(self) -> str:
        """``s3://<bucket>/<prefix>``, ending in '/', as ModelDataSource wants it: the
        readiness gate's attribute once ``use_ready_uri`` was called."""
        if self._s3_uri is not None:
            return self._s3_uri
        return f"s3://{self.bucket.bucket_name}/{self.weights_prefix}"

    @property
    def manifest_key(self) -> str:
        """Where the WeightsMirror records what it copied: beside the prefix, not in it.

        Everything under the prefix lands in /opt/ml/model; the manifest is for people.
        """
        return f"{self.weights_prefix.rstrip('/')}.manifest.json"

    def model_data_source(self) -> sagemaker.CfnModel.ModelDataSourceProperty:
        """The uncompressed S3-prefix data source for a model's container."""
        return sagemaker.CfnModel.ModelDataSourceProperty(
            s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                s3_uri=self.weights_s3_uri,
                s3_data_type="S3Prefix",
                compression_type="None",
            )
        )

    def _object_arns(self) -> str:
        return self.bucket.arn_for_objects(f"{self.weights_prefix}*")

    def _list_statement(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[self.bucket.bucket_arn],
            conditions={
                "StringLike": {"s3:prefix": [self.weights_prefix, f"{self.weights_prefix}*"]}
            },
        )

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the weights prefix only: list it, get its objects, decrypt with the key."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:GetObject"], resource_arns=[self._object_arns()]
        )
        grantee.grant_principal.add_to_principal_policy(self._list_statement())
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self.encryption_key.key_arn])
        )
        return grant

    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Replace the weights prefix and its manifest; nothing else in the bucket.

        DeleteObject is for `aws s3 sync --delete`, which removes shards of an older
        revision (vLLM would load them too); with versioning on it only adds delete
        markers, so a bad mirror can be rolled back.
        """
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
            resource_arns=[self._object_arns()],
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(self.manifest_key)],
            )
        )
        grantee.grant_principal.add_to_principal_policy(self._list_statement())
        # Multipart uploads to an SSE-KMS bucket need Decrypt as well as GenerateDataKey
        # (S3 user guide, mpuoverview.html "multipart upload and permissions").
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.encryption_key.key_arn],
            )
        )
        return grant


class ModelArtifacts(Construct, _WeightsAccess):
    """A KMS-encrypted, versioned, TLS-only bucket for the weights, with access logs.

    :param weights_prefix: key prefix of the weights, ending in '/'.
        Default: ``"models/gpt-oss-120b/"`` (the hub id's name, so a 20b mirror can sit
        beside it).
    :param encryption_key: customer managed key for the bucket.
        Default: a new key with yearly rotation (KMS ``EnableKeyRotation``).
    :param removal_policy: what happens to the bucket, key and log bucket when the stack
        is deleted. Default: ``RemovalPolicy.RETAIN`` (the mirror takes minutes to an hour
        to rebuild, and access logs are audit records).
    :param noncurrent_version_expiration: how long replaced weight versions are kept.
        Default: 30 days (versioning guards against a bad re-mirror; keeping old 61 GiB
        copies forever would double the storage bill).
    :param access_log_retention: how long server access logs are kept.
        Default: 365 days; ``None`` keeps them forever.
    :param auto_delete_objects: with ``RemovalPolicy.DESTROY``, empty both buckets (every
        object version) before CloudFormation deletes them; CloudFormation cannot delete a
        bucket that holds objects. Default: ``False``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        weights_prefix: str = "models/gpt-oss-120b/",
        encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        noncurrent_version_expiration: Duration = NONCURRENT_VERSION_EXPIRATION,
        access_log_retention: Duration | None = ACCESS_LOG_RETENTION,
        auto_delete_objects: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        # Deliver access logs through a bucket policy, not the legacy LogDeliveryWrite ACL
        # (S3 disables ACLs by default since 2023). Context set here applies to this
        # construct's children only, whatever the app's feature flags say.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        problems = PropErrors("ModelArtifacts props")
        validate_weights_prefix(problems, weights_prefix)
        problems.raise_if_any()

        self.weights_prefix = weights_prefix
        self._s3_uri: str | None = None
        self.encryption_key: kms.IKey = encryption_key or kms.Key(
            self,
            "Key",
            description="gpt-oss model weights, endpoint logs and mirror artifacts",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.access_logs_bucket = self._access_logs_bucket(
            removal_policy, auto_delete_objects, access_log_retention
        )
        self.bucket = self._weights_bucket(
            removal_policy, auto_delete_objects, noncurrent_version_expiration
        )

    def _access_logs_bucket(
        self, removal_policy: RemovalPolicy, auto_delete: bool, retention: Duration | None
    ) -> s3.Bucket:
        # Server access logs can only be delivered to a bucket with SSE-S3 default
        # encryption (S3 user guide, enable-server-access-logging: "SSE-KMS is not
        # supported for the target bucket").
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete,
            lifecycle_rules=[s3.LifecycleRule(expiration=retention)] if retention else [],
        )
        acknowledge(
            bucket,
            [
                (
                    rule,
                    "This is the access-log bucket; logging it into itself would loop, and "
                    "S3 delivers server access logs only to SSE-S3 buckets.",
                )
                for rule in (
                    "AwsSolutions-S1",
                    "NIST.800.53.R5-S3BucketLoggingEnabled",
                    "HIPAA.Security-S3BucketLoggingEnabled",
                    "NIST.800.53.R5-S3DefaultEncryptionKMS",
                    "HIPAA.Security-S3DefaultEncryptionKMS",
                )
            ]
            + [
                (
                    rule,
                    "Access logs are kept in one region; cross-region replication is an "
                    "organisation-level choice (S3 replication or AWS Backup), not this app's.",
                )
                for rule in (
                    "NIST.800.53.R5-S3BucketReplicationEnabled",
                    "HIPAA.Security-S3BucketReplicationEnabled",
                )
            ],
        )
        return bucket

    def _weights_bucket(
        self, removal_policy: RemovalPolicy, auto_delete: bool, noncurrent_expiration: Duration
    ) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.encryption_key,
            # One data key per bucket instead of one KMS call per part: a 61 GiB upload
            # is thousands of multipart parts (S3 Bucket Keys, bucket-key.html).
            bucket_key_enabled=True,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="weights-bucket/",
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete,
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=noncurrent_expiration,
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        if auto_delete:
            _drop_auto_delete_provider_dependency(Stack.of(self))
        acknowledge(
            bucket,
            [
                (
                    rule,
                    "The weights are a copy of a public Hugging Face repository that the "
                    "WeightsMirror can rebuild; replicating 61 GiB per region doubles the "
                    "storage bill for no recovery gain.",
                )
                for rule in (
                    "NIST.800.53.R5-S3BucketReplicationEnabled",
                    "HIPAA.Security-S3BucketReplicationEnabled",
                )
            ],
        )
        return bucket

    def prefix_wildcard_finding(self, rule_pack: str = "AwsSolutions") -> str:
        """The IAM5 finding id that a prefix grant raises, to acknowledge on the grantee."""
        stack = Stack.of(self)
        logical_id = stack.resolve(stack.get_logical_id(self.bucket.node.default_child))  # type: ignore[arg-type]
        return f"{rule_pack}-IAM5[Resource::<{logical_id}.Arn>/{self.weights_prefix}*]"


class ImportedModelArtifacts(Construct, _WeightsAccess):
    """The weights bucket of another stack (``GptOssWeightsStack``), through its exports.

    :param bucket_name: the bucket's name (an ``Fn::ImportValue``).
    :param key_arn: its KMS key (an ``Fn::ImportValue``).
    :param weights_prefix: the key prefix of the weights, ending in '/'.
    :param ready_uri: the weights URI exported from the readiness gate's attribute; the
        model data source uses it, so the model is created after the gate.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        key_arn: str,
        weights_prefix: str,
        ready_uri: str,
    ) -> None:
        super().__init__(scope, construct_id)
        problems = PropErrors("ImportedModelArtifacts props")
        validate_weights_prefix(problems, weights_prefix)
        problems.raise_if_any()
        self.weights_prefix = weights_prefix
        self.bucket = s3.Bucket.from_bucket_name(self, "Bucket", bucket_name)
        self.encryption_key = kms.Key.from_key_arn(self, "Key", key_arn)
        self._s3_uri = ready_uri

    def prefix_wildcard_finding(self, rule_pack: str = "AwsSolutions") -> str:
        """The IAM5 finding id of a grant on the imported prefix, as cdk-nag prints it."""
        bucket = Stack.of(self).resolve(self.bucket.bucket_name)
        # cdk-nag prints an imported value by its export name.
        name = bucket.get("Fn::ImportValue", "*") if isinstance(bucket, dict) else bucket
        return (
            f"{rule_pack}-IAM5[Resource::arn:<AWS::Partition>:s3:::{name}/{self.weights_prefix}*]"
        )


def _drop_auto_delete_provider_dependency(stack: Stack) -> None:
    """aws-cdk-lib's auto-delete handler depends on its role, which it already references
    with Fn::GetAtt (cfn-lint W3005); the role has no separate policy to wait for."""
    provider = stack.node.try_find_child("Custom::S3AutoDeleteObjectsCustomResourceProvider")
    handler = provider.node.try_find_child("Handler") if provider is not None else None
    if isinstance(handler, CfnResource):
        handler.add_deletion_override("DependsOn")
