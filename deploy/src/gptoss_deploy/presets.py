"""The presets: one complete, valid configuration per way of deploying gpt-oss.

An environment file names one and overrides fields of it (``gptoss_deploy.loading``).
Adding a preset is one entry here; docs/infrastructure.md's cost table and the preset list
are generated from these by the CDK app's summary.
"""

from __future__ import annotations

from decimal import Decimal

from gptoss_deploy.config import BedrockConfig, CostConfig, DeploymentConfig, SageMakerConfig
from gptoss_facts.models import CONTEXT_LENGTH

# Presets. Every number here is a default documented on the field above, or a budget sized
# from the preset's own estimate in docs/infrastructure.md.
PRESETS: dict[str, DeploymentConfig] = {
    "gpt-oss-120b-p5-4xlarge": DeploymentConfig(
        preset="gpt-oss-120b-p5-4xlarge",
        region="us-west-2",
        sagemaker=SageMakerConfig(
            model="gpt-oss-120b", instance_type="ml.p5.4xlarge", min_instances=1, max_instances=2
        ),
        bedrock=BedrockConfig(),
        cost=CostConfig(monthly_budget_usd=Decimal(12000)),
    ),
    "gpt-oss-120b-ic-p5-48xlarge": DeploymentConfig(
        preset="gpt-oss-120b-ic-p5-48xlarge",
        # us-east-1: the Price List offers ml.p5.48xlarge hosting there and the bundled price
        # catalog prices it there.
        region="us-east-1",
        sagemaker=SageMakerConfig(
            model="gpt-oss-120b",
            instance_type="ml.p5.48xlarge",
            inference_components=True,
            gpus_per_copy=1,
            # A rolling update replaces copies in batches of 5-50% of the copy count
            # (InferenceComponentRollingUpdatePolicy): 2 copies make a batch of 1 valid,
            # and 7 copies on 8 GPUs leave the batch a free GPU on the one instance.
            min_copies=2,
            max_copies=7,
            min_instances=1,
            max_instances=1,
        ),
        bedrock=BedrockConfig(),
        cost=CostConfig(monthly_budget_usd=Decimal(50000)),
    ),
    "gpt-oss-20b-g6e-xlarge": DeploymentConfig(
        preset="gpt-oss-20b-g6e-xlarge",
        region="us-east-1",
        sagemaker=SageMakerConfig(
            model="gpt-oss-20b",
            instance_type="ml.g6e.xlarge",
            min_instances=1,
            max_instances=2,
            # The 20b's KV cache is two thirds of the 120b's and the weights a fifth: a full
            # 128K context for 8 sequences fits in 48 GB (see the memory check).
            max_model_len=CONTEXT_LENGTH,
            concurrency=8,
        ),
        bedrock=BedrockConfig(),
        cost=CostConfig(monthly_budget_usd=Decimal(4000)),
    ),
    "bedrock-only": DeploymentConfig(
        preset="bedrock-only",
        # us-east-1: Bedrock offers gpt-oss there, and the catalog's token prices are the
        # us-east-1 offer file's.
        region="us-east-1",
        sagemaker=None,
        bedrock=BedrockConfig(),
        cost=CostConfig(monthly_budget_usd=Decimal(1000)),
    ),
}
