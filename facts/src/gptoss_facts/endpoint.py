"""Defaults of a gpt-oss SageMaker endpoint and of the container it runs.

The CDK construct (infra), the notebook deploy path (gptoss_deploy) and the container
read these, so a default changes in one place.
"""

from __future__ import annotations

# ContainerStartupHealthCheckTimeoutInSeconds and ModelDataDownloadTimeoutInSeconds: SageMaker
# allows 60-3600 s (API reference, ProductionVariant). 1800 s: a 61 GiB load is 3-6 min from
# S3 plus 5-10 min of vLLM start; aws-samples' gpt-oss-120b recipe on ml.g7e.2xlarge uses
# 1200 s (sagemaker-genai-hosting-examples, gpt-oss-120b-g7e-vanilla.yaml).
STARTUP_TIMEOUT_S = 1800
DOWNLOAD_TIMEOUT_S = 1800
TIMEOUT_RANGE_S = (60, 3600)

# EBS volume for instance types without local NVMe: twice the 120b checkpoint (60.8 GiB,
# model card) rounded up, so a re-download fits beside it. VolumeSizeInGB allows 1-512
# (API reference, ProductionVariant).
VOLUME_SIZE_GB = 128
VOLUME_RANGE_GB = (1, 512)

# The SageMaker Python SDK's variant name, used by the CDK construct too.
VARIANT_NAME = "AllTraffic"

# RoutingConfig.RoutingStrategy values (API reference, ProductionVariantRoutingConfig). LLM
# requests last from milliseconds to minutes; random routing piles long ones on one instance.
ROUTING_STRATEGIES = ("LEAST_OUTSTANDING_REQUESTS", "RANDOM")
DEFAULT_ROUTING_STRATEGY = "LEAST_OUTSTANDING_REQUESTS"

# Host memory reserved per inference-component copy: vLLM's host process and the mapped
# safetensors pages.
COMPONENT_MIN_MEMORY_MB = 32768

# SageMaker hosting contract: the container answers /ping and /invocations on port 8080
# (developer guide, "Use your own inference code with hosting services").
CONTAINER_PORT = 8080

# SageMaker sends SIGTERM, then SIGKILL 30 s later (developer guide, "How SageMaker AI Runs
# Your Inference Image"): in-flight requests get 25 s to finish, leaving 5 s to exit.
DRAIN_TIMEOUT_S = 25.0

# Typed endpoint settings and the container variable each becomes
# (inference_container/README.md, settings table).
CONTAINER_ENV: dict[str, str] = {
    "served_model_name": "GPTOSS_SERVED_MODEL_NAME",
    "max_model_len": "GPTOSS_MAX_MODEL_LEN",
    "max_num_seqs": "GPTOSS_MAX_NUM_SEQS",
    "tensor_parallel_size": "GPTOSS_TENSOR_PARALLEL_SIZE",
    "gpu_memory_utilization": "GPTOSS_GPU_MEMORY_UTILIZATION",
}
