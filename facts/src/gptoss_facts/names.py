"""Name rules of the AWS resources gptoss-aws creates, each from its API reference.

A pattern alone does not always cap the length (hyphens repeat inside a group), so every
rule comes with its maximum: check both.
"""

from __future__ import annotations

import re

# EndpointName, EndpointConfigName, ModelName, InferenceComponentName, VariantName:
# ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$ (SageMaker API reference, CreateEndpoint /
# CreateInferenceComponent).
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
SAGEMAKER_NAME_MAX = 63
# InferenceProfileName: ([0-9a-zA-Z:.][ _-]?)+, 1-64 (Bedrock API reference,
# CreateInferenceProfile).
PROFILE_NAME = re.compile(r"^([0-9a-zA-Z:.][ _-]?)+$")
PROFILE_NAME_MAX = 64
# StackName: [a-zA-Z][-a-zA-Z0-9]*, 1-128 (CloudFormation API reference, CreateStack).
STACK_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]*$")
STACK_NAME_MAX = 128
# TableName: [a-zA-Z0-9_.-]+, 3-255 (DynamoDB API reference, CreateTable).
TABLE_NAME = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
# BudgetName: 1-100 characters, no ':' or '\' (AWS Budgets API reference, Budget).
BUDGET_NAME_MAX = 100
BUDGET_NAME_FORBIDDEN = (":", "\\")
# Container Environment: at most 100 entries, keys [a-zA-Z_][a-zA-Z0-9_]* and keys and
# values up to 1024 characters (SageMaker API reference, CreateModel
# ContainerDefinition.Environment).
ENV_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$")
ENV_MAX_ENTRIES = 100
ENV_MAX_VALUE = 1024


def sagemaker_name_problem(field: str, value: str) -> str | None:
    """What is wrong with a SageMaker resource name, or None when it is valid."""
    if SAGEMAKER_NAME.match(value):
        return None
    return (
        f"{field} {value!r} is not a valid SageMaker name: use 1-{SAGEMAKER_NAME_MAX} "
        "letters, digits and hyphens, starting and ending with a letter or digit"
    )
