"""The model's VPC placement: private subnets, a security group and the VPC endpoints.

Which endpoints, and why (SageMaker developer guide, host-vpc.html and
interface-vpc-endpoint.html):
- S3 gateway: SageMaker downloads the model data through the VPC; from private subnets
  without NAT this is the only way. Gateway endpoints cost nothing.
- ECR api + dkr: the image pull, when it is routed through the VPC.
- CloudWatch Logs: container stdout/stderr.
- sagemaker.runtime: not for the model; only clients in this VPC calling InvokeEndpoint
  need it, so it is opt-in.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from .endpoint_props import VpcOptions


def _default_subnets(vpc: ec2.IVpc) -> ec2.SubnetSelection:
    # Isolated subnets first: a model with network isolation needs no route out at all.
    for subnet_type in (ec2.SubnetType.PRIVATE_ISOLATED, ec2.SubnetType.PRIVATE_WITH_EGRESS):
        if _has(vpc, subnet_type):
            return ec2.SubnetSelection(subnet_type=subnet_type)
    raise ValueError(
        "VpcOptions: the VPC has no private subnets; pass subnets= or add private subnets "
        "(SageMaker models belong in private subnets)"
    )


def _has(vpc: ec2.IVpc, subnet_type: ec2.SubnetType) -> bool:
    subnets = {
        ec2.SubnetType.PRIVATE_ISOLATED: vpc.isolated_subnets,
        ec2.SubnetType.PRIVATE_WITH_EGRESS: vpc.private_subnets,
    }[subnet_type]
    return len(subnets) > 0


class ModelNetwork(Construct):
    """Subnets, security group and VPC endpoints for a SageMaker model in a VPC."""

    def __init__(self, scope: Construct, construct_id: str, *, options: VpcOptions) -> None:
        super().__init__(scope, construct_id)
        vpc = options.vpc
        self.subnet_selection = options.subnets or _default_subnets(vpc)
        self.subnet_ids = vpc.select_subnets(
            subnet_type=self.subnet_selection.subnet_type,
            subnet_group_name=self.subnet_selection.subnet_group_name,
            subnets=self.subnet_selection.subnets,
            availability_zones=self.subnet_selection.availability_zones,
            one_per_az=self.subnet_selection.one_per_az,
        ).subnet_ids
        if options.security_groups:
            self.security_groups = list(options.security_groups)
        else:
            # No inbound rules: SageMaker reaches the container over its own channel, not
            # through this group. Outbound stays open because S3 gateway traffic is routed
            # by a prefix list a CIDR rule cannot name; private subnets limit where it goes.
            self.security_groups = [
                ec2.SecurityGroup(
                    self,
                    "SecurityGroup",
                    vpc=vpc,
                    description="gpt-oss SageMaker model ENIs (no inbound)",
                    allow_all_outbound=True,
                )
            ]
        self.endpoints: list[ec2.IVpcEndpoint] = []
        if options.create_endpoints:
            self.endpoints.append(
                ec2.GatewayVpcEndpoint(
                    self,
                    "S3",
                    vpc=vpc,
                    service=ec2.GatewayVpcEndpointAwsService.S3,
                    subnets=[self.subnet_selection],
                )
            )
            services = {
                "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
                "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
                "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
            }
            if options.runtime_endpoint:
                services["Runtime"] = ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME
            for name, service in services.items():
                endpoint = ec2.InterfaceVpcEndpoint(
                    self,
                    name,
                    vpc=vpc,
                    service=service,
                    subnets=self.subnet_selection,
                    private_dns_enabled=True,
                    # Not open to the VPC CIDR: only the model's ENIs may call them. Clients
                    # of the runtime endpoint are allowed with
                    # `endpoint.connections.allow_default_port_from(...)`.
                    open=False,
                )
                for group in self.security_groups:
                    endpoint.connections.allow_default_port_from(group, "model ENIs (HTTPS)")
                self.endpoints.append(endpoint)

    def grant_eni_management(self, role: iam.IRole) -> None:
        """The EC2 actions SageMaker needs to place the model's ENIs (host-vpc.html)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                resources=["*"],
            )
        )
