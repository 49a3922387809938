"""GptOssWeightsStack: the weights bucket, the mirror job and the gate that verifies them.

A stack of its own so that deleting or replacing the endpoint never touches 61 GiB of
weights, and so that the SageMaker stack can depend on it: the model's data source is the
``WeightsS3Uri`` export, whose value is the ``Custom::GptOssWeightsReady`` gate's attribute,
so CloudFormation creates the model only after the gate verified the copy.

On deletion (``make destroy``) the bucket, its access logs and its key go too, unless
``sagemaker.keep_weights_on_destroy``; ``make destroy-endpoint`` deletes only the SageMaker
stack.
"""

from __future__ import annotations

from aws_cdk import CfnResource, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from gptoss_deploy.config import DeploymentConfig
from gptoss_infra.constructs.sagemaker import ModelArtifacts, ReadinessGate, WeightsMirror
from gptoss_infra.constructs.sagemaker._util import allow_log_encryption
from gptoss_infra.constructs.sagemaker.endpoint import COMPONENT_LOG_GROUP, ENDPOINT_LOG_GROUP
from gptoss_infra.rehearsal.intent import declare_retained
from gptoss_infra.stacks.common import GptOssStack

# The gate's ResourceProperties; the handler (build_gate.py) reads the same names.
WEIGHTS_GATE = "Custom::GptOssWeightsReady"


class GptOssWeightsStack(GptOssStack):
    """Weights of one environment's model, mirrored and verified during deploy.

    Outputs (exports ``<project>-<env>:...``): ``WeightsS3Uri`` (the gate's attribute),
    ``WeightsBucket``, ``WeightsKeyArn`` and ``MirrorProject`` (when the mirror exists).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            component="sagemaker",
            description=f"gpt-oss {config.environment}: model weights, mirrored and verified",
        )
        sm = config.sagemaker
        if sm is None:
            raise ValueError("GptOssWeightsStack needs config.sagemaker")
        names = config.names
        spec = sm.model_spec
        keep = sm.keep_weights_on_destroy
        removal = RemovalPolicy.RETAIN if keep else RemovalPolicy.DESTROY
        self.artifacts = ModelArtifacts(
            self,
            "Weights",
            weights_prefix=f"models/{spec.name}/",
            removal_policy=removal,
            auto_delete_objects=not keep,
        )
        if keep:
            declare_retained(
                self.artifacts,
                reason="sagemaker.keep_weights_on_destroy: the verified weights outlive the "
                "environment (a new deployment creates its own bucket)",
            )
        else:
            self._tag_auto_delete_provider(config)
        key = self.artifacts.encryption_key
        # The SageMaker stack encrypts its log groups with this key too: the endpoint's and
        # component's (named after them) and the ones CloudFormation names after that stack.
        sagemaker_groups = [ENDPOINT_LOG_GROUP.format(name=names.endpoint)]
        if sm.inference_components:
            sagemaker_groups.append(COMPONENT_LOG_GROUP.format(name=names.inference_component))
        allow_log_encryption(key, [*sagemaker_groups, f"{names.sagemaker_stack}-*"])
        self.mirror = (
            WeightsMirror(
                self,
                "Mirror",
                artifacts=self.artifacts,
                repo_id=spec.hub_id,
                # Its logs are encrypted with the weights key: they go (or stay) with it.
                removal_policy=removal,
            )
            if sm.mirror_weights
            else None
        )
        if self.mirror is None:
            allow_log_encryption(key, [f"{self.stack_name}-*"])
        self.gate = self._gate(spec.hub_id, key)
        self._grant_gate_reads()
        self.artifacts.use_ready_uri(self.gate.attribute("WeightsS3Uri"))
        self._outputs()

    def _gate(self, hub_id: str, key: kms.IKey) -> ReadinessGate:
        """The gate runs the mirror (or waits for an upload) and verifies the prefix."""
        mirror = self.mirror
        return ReadinessGate(
            self,
            "WeightsReady",
            resource_type=WEIGHTS_GATE,
            properties={
                "Kind": "weights",
                "ProjectName": mirror.project.project_name if mirror else "",
                "Bucket": self.artifacts.bucket.bucket_name,
                "Prefix": self.artifacts.weights_prefix,
                "ManifestKey": self.artifacts.manifest_key,
                "RepoId": mirror.repo_id if mirror else hub_id,
                "Revision": mirror.revision if mirror else "uploaded",
            },
            project=mirror.project if mirror else None,
            build_logs=mirror.log_group if mirror else None,
            encryption_key=key,
        )

    def _outputs(self) -> None:
        key = self.artifacts.encryption_key
        self.output(
            "WeightsS3Uri",
            self.artifacts.weights_s3_uri,
            "WeightsS3Uri",
            "verified uncompressed checkpoint prefix SageMaker loads into /opt/ml/model",
        )
        self.output(
            "WeightsBucket", self.artifacts.bucket.bucket_name, "WeightsBucket", "weights bucket"
        )
        self.output("WeightsKeyArn", key.key_arn, "WeightsKeyArn", "KMS key of the weights")
        if self.mirror is not None:
            self.output(
                "MirrorProject",
                self.mirror.project.project_name,
                "MirrorProject",
                "CodeBuild project that copies the weights from Hugging Face (run by deploy)",
            )

    def _tag_auto_delete_provider(self, config: DeploymentConfig) -> None:
        """aws-cdk-lib writes the auto-delete handler's role as a raw resource, which the
        cost-tag aspect cannot reach; tag it like every other resource of the stack."""
        provider = self.node.try_find_child("Custom::S3AutoDeleteObjectsCustomResourceProvider")
        tags = {**config.cost_tags, "component": "sagemaker"}
        for name in ("Role", "Handler"):
            resource = provider.node.try_find_child(name) if provider is not None else None
            if isinstance(resource, CfnResource):
                resource.add_property_override(
                    "Tags", [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
                )

    def _grant_gate_reads(self) -> None:
        """The gate lists the prefix and reads the manifest (written with the bucket's key)."""
        artifacts, role = self.artifacts, self.gate.role
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[artifacts.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [artifacts.weights_prefix + "*"]}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[artifacts.bucket.arn_for_objects(artifacts.manifest_key)],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"], resources=[artifacts.encryption_key.key_arn]
            )
        )
