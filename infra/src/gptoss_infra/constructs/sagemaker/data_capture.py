"""Optional data capture: SageMaker writes sampled requests and responses to S3.

Prompts and completions are user data, so capture is off unless asked for, encrypted with
a customer key, and sampled. InvokeEndpointWithResponseStream responses are not captured
(the data-capture docs cover InvokeEndpoint and InvokeEndpointAsync only), so streaming
clients produce request-only records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from .._common import PropErrors

_PREFIX = re.compile(r"^[A-Za-z0-9!\-_.*'()/]+/$")


@dataclass(frozen=True, kw_only=True)
class DataCaptureOptions:
    """Where and how much to capture.

    :param bucket: destination bucket (required); the ModelArtifacts bucket works.
    :param encryption_key: key for the captured files (required: capture holds prompts).
    :param prefix: key prefix ending in '/'. Default: ``"data-capture/"``.
    :param sampling_percentage: share of requests captured, 1-100 (DataCaptureConfig
        InitialSamplingPercentage range 0-100; 0 would capture nothing). Default: 10.
    :param capture_input: capture requests. Default: True.
    :param capture_output: capture responses. Default: True.
    """

    bucket: s3.IBucket
    encryption_key: kms.IKey
    prefix: str = "data-capture/"
    sampling_percentage: int = 10
    capture_input: bool = True
    capture_output: bool = True

    def validate(self, problems: PropErrors) -> None:
        problems.check(
            bool(_PREFIX.match(self.prefix)) and not self.prefix.startswith("/"),
            f"data_capture.prefix {self.prefix!r} must be S3 safe characters ending in '/'",
        )
        problems.check(
            1 <= self.sampling_percentage <= 100,
            f"data_capture.sampling_percentage is {self.sampling_percentage}; use 1-100",
        )
        problems.check(
            self.capture_input or self.capture_output,
            "data_capture captures neither input nor output; drop data_capture instead",
        )

    def render(self) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
        modes = [
            m for m, on in (("Input", self.capture_input), ("Output", self.capture_output)) if on
        ]
        return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
            enable_capture=True,
            initial_sampling_percentage=self.sampling_percentage,
            destination_s3_uri=f"s3://{self.bucket.bucket_name}/{self.prefix}",
            kms_key_id=self.encryption_key.key_arn,
            capture_options=[
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode=m) for m in modes
            ],
            # The container speaks JSON (OpenAI chat completions); captured as text, not base64.
            capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                json_content_types=["application/json"]
            ),
        )

    def grant_write(self, grantee: iam.IGrantable) -> None:
        """SageMaker writes the capture files with the endpoint's execution role."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"{self.prefix}*")],
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Encrypt"],
                resources=[self.encryption_key.key_arn],
            )
        )
