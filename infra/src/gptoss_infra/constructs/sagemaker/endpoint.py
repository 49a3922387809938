"""GptOssEndpoint: model, endpoint config and endpoint (optionally inference components).

Built on the L1 resources because aws-sagemaker-alpha has no ModelDataSource, inference
components, managed instance scaling or DeploymentConfig. The execution role is least
privilege (no AmazonSageMakerFullAccess): read the weights prefix, decrypt with its key,
pull the image, write the endpoint's own log group and SageMaker metrics, describe the
rollback alarms, and manage ENIs when in a VPC.
"""

from __future__ import annotations

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from .._common import acknowledge
from ._util import allow_log_encryption, unique_sagemaker_name
from ._validation import MAX_ROLLBACK_ALARMS, Resolved, validate_endpoint_props
from .endpoint_props import BlueGreenUpdate, GptOssEndpointProps, RollingUpdate
from .inference_components import GptOssInferenceComponent, component_variant
from .metrics import EndpointMetrics
from .network import ModelNetwork

# SageMaker writes container logs to these groups (SageMaker developer guide,
# logging-cloudwatch.html); we create them first to set KMS and retention.
ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints/{name}"
COMPONENT_LOG_GROUP = "/aws/sagemaker/InferenceComponents/{name}"
# The namespaces the instance agent publishes to with the execution role.
METRIC_NAMESPACES = ["/aws/sagemaker/Endpoints", "/aws/sagemaker/InferenceComponents"]

INVOKE_ENDPOINT_ACTIONS = ("sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream")
CALL_WITH_BEARER_ACTION = "sagemaker:CallWithBearerToken"
# cdk-nag's finding on the bearer-token statement, and why it stands.
OPENAI_ROUTE_NAG_FINDING = "AwsSolutions-IAM5[Resource::*]"
OPENAI_ROUTE_NAG_REASON = (
    "sagemaker:CallWithBearerToken (SageMaker's OpenAI-compatible route, sagemaker.openai_route) "
    'takes no resource: AWS: "sagemaker:CallWithBearerToken requires a wildcard ("*") for '
    'the Resource field. It does not support resource-level restrictions." '
    "(https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html); "
    "the statement is limited to this account by aws:ResourceAccount = ${aws:PrincipalAccount} "
    "and only InvokeEndpoint on the endpoint's ARN lets the token reach a model"
)


def bearer_token_statement() -> iam.PolicyStatement:
    """``sagemaker:CallWithBearerToken`` on ``*`` (the action takes no resource), in this
    account only."""
    return iam.PolicyStatement(
        sid="CallSageMakerWithBearerToken",
        actions=[CALL_WITH_BEARER_ACTION],
        resources=["*"],
        conditions={"StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}},
    )


class GptOssEndpoint(Construct, EndpointMetrics):
    """gpt-oss on a SageMaker real-time endpoint, served by our vLLM container.

    Attributes: ``endpoint_name`` (literal), ``endpoint_arn``, ``variant_name``,
    ``inference_component_name`` (None unless inference components), ``role``,
    ``model`` / ``endpoint_config`` / ``endpoint`` (L1s), ``inference_component``
    (L1 or None), ``log_group``, ``network`` (None unless a VPC), ``has_local_nvme``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: GptOssEndpointProps) -> None:
        super().__init__(scope, construct_id)
        resolved = validate_endpoint_props(props)
        self.props = props
        self.has_local_nvme = resolved.has_local_nvme
        self.endpoint_name: str = props.endpoint_name or unique_sagemaker_name(self)
        self.variant_name: str = props.variant_name
        ic = props.inference_component
        self.inference_component_name: str | None = None
        if ic is not None:
            self.inference_component_name = ic.name or unique_sagemaker_name(self, "-ic")
        self._rollback_alarms: list[cloudwatch.IAlarm] = []

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker execution role of {self.endpoint_name}",
        )
        self.network: ModelNetwork | None = None
        if props.vpc is not None:
            self.network = ModelNetwork(self, "Network", options=props.vpc)
            self.network.grant_eni_management(self.role)
        self.log_group = self._log_groups(props)
        self._grant_execution(props, resolved)

        self.model = self._model(props, resolved)
        self.endpoint_config = self._endpoint_config(props, resolved)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=self._endpoint_deployment(props),
        )
        # Ref is the ARN (CloudFormation AWS::SageMaker::Endpoint return values); moto
        # implements Ref but not GetAtt EndpointArn.
        self.endpoint_arn: str = self.endpoint.ref
        # SageMaker checks the role's permissions while creating these; without the
        # dependency CloudFormation may create them before the policy is attached (the
        # role itself is already a dependency through its ARN).
        self._policy = self.role.node.find_child("DefaultPolicy")
        for resource in (self.model, self.endpoint_config, self.endpoint):
            resource.node.add_dependency(self._policy)
        for log_group in self._log_group_list:
            self.endpoint.node.add_dependency(log_group)

        self.inference_component: sagemaker.CfnInferenceComponent | None = None
        if ic is not None and self.inference_component_name is not None:
            strategy = props.deployment.strategy if props.deployment else None
            component = GptOssInferenceComponent(
                self,
                "InferenceComponent",
                name=self.inference_component_name,
                endpoint_name=self.endpoint.attr_endpoint_name,
                variant_name=self.variant_name,
                model_name=self.model.attr_model_name,
                options=ic,
                startup_timeout=props.container_startup_health_check_timeout,
                download_timeout=props.model_data_download_timeout,
                rolling=strategy if isinstance(strategy, RollingUpdate) else None,
            )
            self.inference_component = component.resource
            self.inference_component.node.add_dependency(self._policy)

        for alarm in props.deployment.rollback_alarms if props.deployment else ():
            self.add_rollback_alarm(alarm)
        self._acknowledge(props, resolved)

    # -- public API -------------------------------------------------------------------

    @property
    def scaling_resource(self) -> sagemaker.CfnEndpoint | sagemaker.CfnInferenceComponent:
        """The resource an Application Auto Scaling target must wait for."""
        return self.inference_component or self.endpoint

    def invoke_statements(self, *, openai_route: bool = False) -> list[iam.PolicyStatement]:
        """What a caller needs: InvokeEndpoint and InvokeEndpointWithResponseStream on this
        endpoint and, with ``openai_route``, ``sagemaker:CallWithBearerToken``.

        With inference components the caller names the component in the request; IAM
        still authorizes on the endpoint ARN. SageMaker's OpenAI-compatible route
        (``/endpoints/<name>/openai/v1``) authenticates with a bearer token made from the
        caller's credentials and needs "the ``sagemaker:CallWithBearerToken`` and
        ``sagemaker:InvokeEndpoint`` permissions"; "``sagemaker:CallWithBearerToken``
        requires a wildcard (``"*"``) for the ``Resource`` field. It does not support
        resource-level restrictions." (SageMaker developer guide,
        https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html).
        The wildcard is narrowed to this account the way AWS's managed policy
        AmazonSageMakerJobRuntimeAccess narrows the same action: ``aws:ResourceAccount``
        equal to ``${aws:PrincipalAccount}``.
        """
        statements = [
            iam.PolicyStatement(
                sid="InvokeGptOssEndpoint",
                actions=list(INVOKE_ENDPOINT_ACTIONS),
                resources=[self.endpoint_arn],
            )
        ]
        if openai_route:
            statements.append(bearer_token_statement())
        return statements

    def grant_invoke(self, grantee: iam.IGrantable, *, openai_route: bool = False) -> iam.Grant:
        """InvokeEndpoint and InvokeEndpointWithResponseStream on this endpoint, and with
        ``openai_route`` the bearer-token permission of the OpenAI-compatible route (see
        :meth:`invoke_statements`)."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(INVOKE_ENDPOINT_ACTIONS),
            resource_arns=[self.endpoint_arn],
        )
        if openai_route:
            grantee.grant_principal.add_to_principal_policy(bearer_token_statement())
        return grant

    def openai_base_url(self, region: str) -> str:
        """Base URL of SageMaker's OpenAI-compatible route for this endpoint, or for its
        inference component: ``https://runtime.sagemaker.<region>.amazonaws.com/endpoints/
        <endpoint>[/inference-components/<component>]/openai/v1`` (the client appends
        ``/chat/completions``; SageMaker developer guide,
        realtime-endpoints-openai-compatible)."""
        url = f"https://runtime.sagemaker.{region}.amazonaws.com/endpoints/{self.endpoint_name}"
        if self.inference_component_name is not None:
            url += f"/inference-components/{self.inference_component_name}"
        return f"{url}/openai/v1"

    def add_rollback_alarm(self, alarm: cloudwatch.IAlarm) -> None:
        """Roll deployments back when `alarm` fires; needs a deployment strategy (1-10 alarms)."""
        if self.props.deployment is None:
            raise ValueError(
                "add_rollback_alarm needs props.deployment (RollingUpdate or BlueGreenUpdate): "
                "SageMaker only rolls back deployments it runs with a DeploymentConfig"
            )
        if len(self._rollback_alarms) >= MAX_ROLLBACK_ALARMS:
            raise ValueError(f"SageMaker allows at most {MAX_ROLLBACK_ALARMS} rollback alarms")
        # SageMaker reads the alarms' state during a deployment (DeploymentConfig docs).
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=[alarm.alarm_arn])
        )
        self._rollback_alarms.append(alarm)
        # Rendered on every call (an override, not a Lazy: jsii cannot hand a Python
        # producer its resolve context), so alarms added after construction count too.
        target: CfnResource = self.inference_component or self.endpoint
        target.add_property_override(
            "DeploymentConfig.AutoRollbackConfiguration.Alarms",
            [{"AlarmName": a.alarm_name} for a in self._rollback_alarms],
        )

    # -- building blocks --------------------------------------------------------------

    def _log_groups(self, props: GptOssEndpointProps) -> logs.LogGroup:
        key = props.artifacts.encryption_key
        names = [("Logs", ENDPOINT_LOG_GROUP.format(name=self.endpoint_name))]
        if self.inference_component_name is not None:
            names.append(
                ("ComponentLogs", COMPONENT_LOG_GROUP.format(name=self.inference_component_name))
            )
        allow_log_encryption(key, [name for _, name in names])
        self._log_group_list = [
            logs.LogGroup(
                self,
                construct_id,
                log_group_name=name,
                encryption_key=key,
                retention=props.log_retention,
                removal_policy=props.log_removal_policy,
            )
            for construct_id, name in names
        ]
        return self._log_group_list[0]

    def _grant_execution(self, props: GptOssEndpointProps, resolved: Resolved) -> None:
        props.artifacts.grant_read(self.role)
        props.image.grant_pull(self.role)
        for log_group in self._log_group_list:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    resources=[log_group.log_group_arn],
                )
            )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACES}},
            )
        )
        if resolved.volume_encryption_key is not None:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[
                        "kms:CreateGrant",
                        "kms:Decrypt",
                        "kms:GenerateDataKey",
                        "kms:DescribeKey",
                    ],
                    resources=[resolved.volume_encryption_key.key_arn],
                )
            )
        if props.data_capture is not None:
            props.data_capture.grant_write(self.role)

    def _vpc_config(self) -> sagemaker.CfnModel.VpcConfigProperty | None:
        if self.network is None:
            return None
        return sagemaker.CfnModel.VpcConfigProperty(
            security_group_ids=[sg.security_group_id for sg in self.network.security_groups],
            subnets=self.network.subnet_ids,
        )

    def _model(self, props: GptOssEndpointProps, resolved: Resolved) -> sagemaker.CfnModel:
        return sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            # True by default: the container never needs the network (weights come from
            # S3, the image is offline). Changing it replaces the model.
            enable_network_isolation=props.network_isolation,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=props.image.image_uri,
                model_data_source=props.artifacts.model_data_source(),
                environment=resolved.environment or None,
            ),
            vpc_config=self._vpc_config(),
        )

    def _endpoint_config(
        self, props: GptOssEndpointProps, resolved: Resolved
    ) -> sagemaker.CfnEndpointConfig:
        ic = props.inference_component
        if ic is None:
            variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=self.variant_name,
                model_name=self.model.attr_model_name,
                instance_type=props.instance_type,
                initial_instance_count=props.initial_instance_count,
                initial_variant_weight=1.0,
                container_startup_health_check_timeout_in_seconds=int(
                    props.container_startup_health_check_timeout.to_seconds()
                ),
                model_data_download_timeout_in_seconds=int(
                    props.model_data_download_timeout.to_seconds()
                ),
                volume_size_in_gb=resolved.volume_size_gb,
                routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                    routing_strategy=props.routing_strategy
                ),
                inference_ami_version=props.inference_ami_version,
            )
        else:
            variant = component_variant(
                variant_name=self.variant_name,
                instance_type=props.instance_type,
                initial_instance_count=props.initial_instance_count,
                routing_strategy=props.routing_strategy,
                volume_size_gb=resolved.volume_size_gb,
                options=ic,
                inference_ami_version=props.inference_ami_version,
            )
        vpc = self._vpc_config()
        return sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[variant],
            kms_key_id=(
                resolved.volume_encryption_key.key_arn if resolved.volume_encryption_key else None
            ),
            data_capture_config=props.data_capture.render() if props.data_capture else None,
            # Inference components are placed on the endpoint's instances, so the role,
            # network isolation and VPC are the endpoint config's too.
            execution_role_arn=self.role.role_arn if ic is not None else None,
            enable_network_isolation=props.network_isolation if ic is not None else None,
            vpc_config=(
                sagemaker.CfnEndpointConfig.VpcConfigProperty(
                    security_group_ids=vpc.security_group_ids, subnets=vpc.subnets
                )
                if ic is not None and vpc is not None
                else None
            ),
        )

    def _endpoint_deployment(
        self, props: GptOssEndpointProps
    ) -> sagemaker.CfnEndpoint.DeploymentConfigProperty | None:
        # Inference components carry their own DeploymentConfig (GptOssInferenceComponent).
        if props.deployment is None or props.inference_component is not None:
            return None
        strategy = props.deployment.strategy
        if isinstance(strategy, RollingUpdate):
            return sagemaker.CfnEndpoint.DeploymentConfigProperty(
                rolling_update_policy=sagemaker.CfnEndpoint.RollingUpdatePolicyProperty(
                    maximum_batch_size=sagemaker.CfnEndpoint.CapacitySizeProperty(
                        type="INSTANCE_COUNT", value=strategy.maximum_batch_size
                    ),
                    wait_interval_in_seconds=int(strategy.wait_interval.to_seconds()),
                    maximum_execution_timeout_in_seconds=(
                        int(strategy.maximum_execution_timeout.to_seconds())
                        if strategy.maximum_execution_timeout
                        else None
                    ),
                    rollback_maximum_batch_size=(
                        sagemaker.CfnEndpoint.CapacitySizeProperty(
                            type="INSTANCE_COUNT", value=strategy.rollback_maximum_batch_size
                        )
                        if strategy.rollback_maximum_batch_size
                        else None
                    ),
                ),
            )
        assert isinstance(strategy, BlueGreenUpdate)
        step = None
        if strategy.step_percent is not None:
            step = sagemaker.CfnEndpoint.CapacitySizeProperty(
                type="CAPACITY_PERCENT", value=strategy.step_percent
            )
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                    type=strategy.traffic_routing,
                    wait_interval_in_seconds=int(strategy.wait_interval.to_seconds()),
                    canary_size=step if strategy.traffic_routing == "CANARY" else None,
                    linear_step_size=step if strategy.traffic_routing == "LINEAR" else None,
                ),
                termination_wait_in_seconds=int(strategy.termination_wait.to_seconds()),
                maximum_execution_timeout_in_seconds=(
                    int(strategy.maximum_execution_timeout.to_seconds())
                    if strategy.maximum_execution_timeout
                    else None
                ),
            ),
        )

    def _acknowledge(self, props: GptOssEndpointProps, resolved: Resolved) -> None:
        star_reasons = [
            "ecr:GetAuthorizationToken has no resource-level permissions",
            "cloudwatch:PutMetricData has none either and is limited here by the "
            "cloudwatch:namespace condition to SageMaker's endpoint namespaces",
        ]
        if self.network is not None:
            star_reasons.append(
                "SageMaker creates and deletes the model's ENIs with this role; their ARNs do "
                "not exist before deployment and EC2 Describe* actions have no resource-level "
                "permissions"
            )
        findings = [
            (
                "AwsSolutions-IAM5[Resource::*]",
                "; ".join(star_reasons) + " (service authorization reference).",
            ),
            (
                props.artifacts.prefix_wildcard_finding(),
                "SageMaker copies every object under the weights prefix to /opt/ml/model; the "
                "grant is limited to that prefix.",
            ),
        ]
        stack = Stack.of(self)
        for log_group in self._log_group_list:
            logical_id = stack.resolve(stack.get_logical_id(log_group.node.default_child))  # type: ignore[arg-type]
            findings.append(
                (
                    f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>]",
                    "The ARN of a log group ends in ':*' (all its streams); SageMaker creates "
                    "one stream per instance, named at run time.",
                )
            )
        if props.data_capture is not None:
            findings.extend(_data_capture_findings(props, stack))
        findings += [
            (
                f"{pack}-IAMNoInlinePolicy",
                "The execution role's policy names this endpoint's own prefix, log groups and "
                "alarms: it belongs to this one role and is created and deleted with it, which "
                "is the case IAM recommends inline policies for.",
            )
            for pack in ("NIST.800.53.R5", "HIPAA.Security")
        ]
        acknowledge(self.role, findings)
        if resolved.has_local_nvme:
            acknowledge(
                self.endpoint_config,
                [
                    (
                        f"{pack}-SageMakerEndpointConfigurationKMSKeyConfigured",
                        f"{props.instance_type} keeps model data on local NVMe instance "
                        "storage, which is hardware-encrypted; SageMaker rejects KmsKeyId "
                        "for such instance types.",
                    )
                    for pack in ("NIST.800.53.R5", "HIPAA.Security")
                ],
            )


def _data_capture_findings(props: GptOssEndpointProps, stack: Stack) -> list[tuple[str, str]]:
    capture = props.data_capture
    assert capture is not None
    bucket_resource = capture.bucket.node.default_child
    if bucket_resource is None:
        # An imported bucket (the weights stack's): cdk-nag prints it by its export name.
        name = stack.resolve(capture.bucket.bucket_name)
        bucket_arn = "arn:<AWS::Partition>:s3:::" + (
            name.get("Fn::ImportValue", "*") if isinstance(name, dict) else str(name)
        )
    else:
        logical_id = stack.resolve(stack.get_logical_id(bucket_resource))  # type: ignore[arg-type]
        bucket_arn = f"<{logical_id}.Arn>"
    return [
        (
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/{capture.prefix}*]",
            "SageMaker writes one capture file per batch of requests under the capture "
            "prefix, named at run time; the grant is limited to that prefix.",
        )
    ]
