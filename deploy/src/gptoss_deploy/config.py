"""The typed deployment configuration: presets, and one file per environment on top of one.

An environment file (``infra/environments/<name>.json`` or ``.toml``) names a preset and
overrides any field of it; the ``sagemaker``, ``bedrock`` and ``cost`` sections merge field
by field, so ``{"sagemaker": {"max_instances": 3}}`` changes one field and keeps the rest of
the preset's SageMaker settings (``"sagemaker": null`` removes the endpoint).
``cdk synth -c env=<name>`` picks the file (default ``dev``).

Two layers check a configuration, and both report every problem at once with its fix:
pydantic checks each field on its own (types, ranges, unknown keys: a typo must not leave a
default silently in place), then ``gptoss_deploy.validation`` checks what only the whole
configuration can tell (does the model fit the GPU, is the instance offered in the region).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gptoss_facts.models import ModelSpec, get_any_model

ModelName = Literal["gpt-oss-120b", "gpt-oss-20b"]
# The gpt-oss-safeguard classifiers (gptoss_facts.models.SAFEGUARD_MODELS): a SageMaker
# endpoint may serve one (it fits wherever its base fits), and Bedrock access may grant one.
SafeguardName = Literal["gpt-oss-safeguard-120b", "gpt-oss-safeguard-20b"]
# One flat Literal (not a union of the two): pydantic then reports a wrong name as one
# error on the field, listing every allowed value.
AnyModelName = Literal[
    "gpt-oss-120b", "gpt-oss-20b", "gpt-oss-safeguard-120b", "gpt-oss-safeguard-20b"
]

DEFAULT_ENVIRONMENT = "dev"
DEFAULT_PRESET = "gpt-oss-120b-p5-4xlarge"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration: where, what, and how to fix it."""

    field: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}. Fix: {self.fix}"


class _Strict(BaseModel):
    # extra="forbid": a misspelt key in an environment file is an error, not a silent default.
    # use_attribute_docstrings: each field's docstring (default and its source) becomes its
    # description, which docs/infrastructure.md's configuration reference is generated from.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class SageMakerConfig(_Strict):
    """gpt-oss on a SageMaker real-time endpoint running our vLLM container."""

    model: AnyModelName = "gpt-oss-120b"
    """Which gpt-oss to serve: ``gpt-oss-120b``, ``gpt-oss-20b`` or a safeguard classifier
    (``gpt-oss-safeguard-120b`` / ``-20b``, sized like its base model). Default:
    ``gpt-oss-120b``."""

    instance_type: str = "ml.p5.4xlarge"
    """SageMaker instance type, a row of ``gptoss_facts.instances``. Default: ``ml.p5.4xlarge``
    (one H100 80 GB: the OpenAI cookbook's ">=60GB VRAM, fits a single H100")."""

    min_instances: int = Field(default=1, ge=0)
    """Instances at the lowest autoscaling point. Default: 1. 0 only with ``scale_to_zero``
    (inference components), because a plain endpoint variant cannot have zero instances."""

    max_instances: int = Field(default=1, ge=1)
    """Instances at the highest autoscaling point. Default: 1 (no instance autoscaling)."""

    inference_components: bool = False
    """Host the model as inference components (copies on a shared endpoint) instead of a
    model on the variant. Default: ``False``."""

    gpus_per_copy: int = Field(default=1, ge=1)
    """With inference components: accelerators per copy (NumberOfAcceleratorDevicesRequired,
    also vLLM's tensor-parallel size). Default: 1 (the vLLM gpt-oss recipe: TP1 gives the
    best throughput per GPU)."""

    min_copies: int = Field(default=1, ge=0)
    """With inference components: copies at the lowest point. Default: 1. 0 means scale to
    zero and needs ``scale_to_zero``."""

    max_copies: int = Field(default=1, ge=1)
    """With inference components: copies at the highest point. Default: 1."""

    scale_to_zero: bool = False
    """Let inference components scale to zero copies and zero instances when idle (managed
    instance scaling, step scaling on NoCapacityInvocationFailures). Cold starts take
    minutes and calls fail meanwhile. Default: ``False``."""

    tensor_parallel_size: int | None = Field(default=None, ge=1)
    """Without inference components: GPUs one model spans. Default: all GPUs of the
    instance rounded down to 1, 2, 4 or 8 (the container's default)."""

    max_model_len: int = Field(default=32768, ge=1024)
    """Context length (prompt + output tokens) vLLM accepts, passed to the container as
    ``GPTOSS_MAX_MODEL_LEN``. Default: 32768 (the published one-H100 throughput runs,
    gpustack performance lab, use max-model-len 32768)."""

    concurrency: int = Field(default=4, ge=1)
    """Sequences at the full ``max_model_len`` whose KV cache must fit at once; the memory
    check sizes for this. vLLM batches more when prompts are shorter. Default: 4 (the 120b
    at 32K on one H100 leaves KV room for 7; 4 keeps headroom for the estimate's error)."""

    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    """Share of GPU memory vLLM may use. Default: the container's default (0.95 for the
    120b on one H100, vllm #23278 / #27508 / #33155; otherwise vLLM's 0.92)."""

    volume_kms_key_arn: str | None = None
    """KMS key for the endpoint's storage volume. Default: none. SageMaker refuses a key
    on instance types with local NVMe (hardware-encrypted): every GPU type today."""

    image_uri: str | None = None
    """An ECR image to serve instead of building one. Default: none; ``cdk deploy`` builds
    ``inference_container/`` in CodeBuild (no local Docker) and the model waits for it."""

    base_image_uri: str | None = None
    """ECR URI of ``vllm/vllm-openai:v0.32.0`` (or your mirror of it) that the cloud build
    starts FROM. Default: none; the build pulls it through an ECR pull-through cache for
    Docker Hub that authenticates with ``dockerhub_secret_name`` (anonymous Docker Hub pulls
    from CodeBuild's shared addresses hit Docker Hub's rate limits)."""

    dockerhub_secret_name: str = Field(
        default="ecr-pullthroughcache/docker-hub", pattern=r"^ecr-pullthroughcache/[\w/+=.@-]+$"
    )
    """Secrets Manager secret with your Docker Hub ``username`` and ``accessToken``, used by the
    pull-through cache rule. Default: ``ecr-pullthroughcache/docker-hub`` (ECR requires the
    ``ecr-pullthroughcache/`` prefix: ECR user guide, pull-through-cache-creating-rule)."""

    inference_ami_version: str | None = None
    """``InferenceAmiVersion`` of the production variant. Default: the newest AMI in
    ``gptoss_deploy.ami`` that offers the instance type and whose NVIDIA driver runs
    the image's CUDA (``al2023-ami-sagemaker-inference-gpu-4-1``: driver 580, CUDA 13.0)."""

    keep_weights_on_destroy: bool = False
    """Keep the weights bucket, its key and access logs when the weights stack is deleted
    (``make destroy`` then lists them with the commands that delete them); a later deploy
    creates a new bucket and copies again. Default: ``False``: ``make destroy`` deletes them;
    ``make destroy-endpoint`` never touches them."""

    mirror_weights: bool = True
    """Copy the checkpoint from Hugging Face into the weights stack's bucket
    (``models/<model>/``) during ``cdk deploy``, verified against the hub's sizes and sha256,
    before the model exists. Default: ``True``; with ``False`` you upload the uncompressed
    checkpoint to that prefix yourself and the deploy waits until it holds ``config.json``."""

    target_concurrent_requests: float | None = Field(default=None, gt=0)
    """Autoscaling target: in-flight requests per model (per copy with inference
    components), the high-resolution ConcurrentRequestsPerModel metric. Default:
    ``EndpointAutoscaling``'s (32, sized from the published one-H100 benchmark)."""

    data_capture: bool = False
    """Capture request and response payloads to S3. Default: ``False`` (prompts can hold
    personal data; turn on deliberately)."""

    instance_quota: int | None = Field(default=None, ge=1)
    """Your account's Service Quotas value "<instance type> for endpoint usage" in the
    region (shared by every endpoint of the account there). Validation refuses an update
    policy that needs more instances at once than this. Default: none, which assumes the
    quota is exactly what an update at full scale needs (``make synth`` prints that number:
    request it before the first deploy; new accounts often have 0 for GPU types)."""

    openai_route: bool = False
    """Let callers use SageMaker's OpenAI-compatible route
    (``https://runtime.sagemaker.<region>.amazonaws.com/endpoints/<endpoint>/openai/v1``, and
    ``.../inference-components/<component>/openai/v1``): the stack's invoke policy also
    allows ``sagemaker:CallWithBearerToken``, which "requires a wildcard (``"*"``) for the
    ``Resource`` field" (AWS, "Invoke endpoints with OpenAI-compatible APIs",
    https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html),
    so it is limited to this account by condition, and the base URL is a stack output.
    Default: ``False`` (callers use InvokeEndpoint only and get no bearer-token permission)."""

    @property
    def model_spec(self) -> ModelSpec:
        return get_any_model(self.model)


# One profile per model: with profiles, the models are reachable only through them.
DEFAULT_TEAMS: dict[str, AnyModelName] = {"default": "gpt-oss-120b", "default-20b": "gpt-oss-20b"}


class BedrockConfig(_Strict):
    """Access to gpt-oss on Amazon Bedrock (serverless, priced per token)."""

    models: tuple[AnyModelName, ...] = ("gpt-oss-120b", "gpt-oss-20b")
    """Models the access policy and the inference profiles cover; add
    ``gpt-oss-safeguard-120b`` / ``-20b`` to grant the safeguard classifiers too. Default:
    gpt-oss-120b and gpt-oss-20b."""

    model_ids: dict[AnyModelName, str] = Field(default_factory=dict)
    """Bedrock model id per model, replacing ``gptoss_facts.models``' id (e.g.
    ``{"gpt-oss-safeguard-20b": "openai.gpt-oss-safeguard-20b-1:0"}``). The safeguard ids
    there come from third-party tables only (no AWS page we could cite): check them with
    ``aws bedrock list-foundation-models --by-provider openai`` and override here if they
    differ. Default: none (the table's ids)."""

    teams: dict[str, AnyModelName] = Field(default_factory=lambda: dict(DEFAULT_TEAMS))
    """Team name -> the model of the team's application inference profile. Each profile is
    tagged with its team so Cost Explorer splits the Bedrock bill by team. Every model of
    ``models`` needs a team (the models are reachable only through the profiles unless
    ``allow_direct_invocation``). Default: ``{"default": "gpt-oss-120b", "default-20b":
    "gpt-oss-20b"}``."""

    invocation_logging: bool = False
    """Deploy the account-level stack ``<Project>-Account`` that turns on Bedrock model
    invocation logging for the account and region. The setting is one per account and
    region, so that stack is named without the environment (every environment that opts in
    deploys the same stack) and is termination-protected: deleting an environment never
    changes it. Default: ``False`` (opt-in)."""

    allow_direct_invocation: bool = False
    """Let the invoke policy call the foundation models directly, not only through the
    team profiles. Direct calls carry no team tags: per-team attribution and the
    tag-filtered budget miss them, and the synth summary says the flag is on.
    Default: ``False`` (with teams, the models are reachable only through a profile: the
    ``bedrock:InferenceProfileArn`` condition)."""

    guardrail: bool = False
    """Create a guardrail and require it with the ``bedrock:GuardrailIdentifier``
    condition. Default: ``False``."""

    mantle: bool = False
    """Bedrock's OpenAI-compatible endpoint ``https://bedrock-mantle.<region>.api.aws/v1``
    (Responses and Chat Completions): create one project (``AWS::BedrockMantle::Project``)
    per team, tagged like the team's inference profile, and let the invoke policy call
    models on bedrock-mantle through those projects only (``bedrock-mantle:CreateInference``,
    ``GetProject``, ``ListProjects`` on the projects' ARNs). "When you tag a project, those
    tags flow to AWS Cost Explorer and AWS Cost and Usage Reports (CUR 2.0)" (AWS,
    https://docs.aws.amazon.com/bedrock/latest/userguide/cost-mgmt-projects.html); callers
    pass the project id (a stack output) with each request. Bedrock API keys and activating
    the tag keys stay manual. Guardrails and the profile-only rule do not apply on
    bedrock-mantle. Default: ``False``."""

    def model_id(self, model: str) -> str:
        """The Bedrock model id of ``model``: the override in ``model_ids``, else the
        table's (``gptoss_facts.models``)."""
        for name, model_id in self.model_ids.items():
            if name == model:
                return model_id
        return get_any_model(model).bedrock_model_id


class CostConfig(_Strict):
    """Budgets, the SDK's ledger table and the cost dashboard."""

    monthly_budget_usd: Decimal = Field(default=Decimal(1000), gt=0)
    """AWS Budgets limit for everything tagged with this project and environment.
    Default: 1000 USD (each preset sets its own from its estimate)."""

    alert_emails: tuple[str, ...] = ()
    """Addresses subscribed to the budget alerts and the endpoint alarms (two encrypted SNS
    topics). Default: none (the topics' ARNs are stack outputs to subscribe later)."""

    alert_thresholds_percent: tuple[int, ...] = (50, 80, 100)
    """Budget notifications, percent of the limit (actual spend; forecast for 100).
    Default: 50, 80, 100."""

    ledger_table: bool = True
    """Create the DynamoDB table the SDK's team ledger writes to. Default: ``True``."""


# The stack names, exports and physical names come from these two; they are part of
# SageMaker and CloudFormation names, so the characters are limited to what both accept.
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class DeploymentConfig(_Strict):
    """Everything one environment deploys."""

    preset: str = DEFAULT_PRESET
    """The preset this configuration started from (informational once merged)."""

    environment: str = Field(default=DEFAULT_ENVIRONMENT, pattern=_IDENTIFIER.pattern)
    """Environment name, from the file name; part of every resource name and tag (the
    length limit comes from the names it ends up in: ``gptoss_deploy.validation``)."""

    project: str = Field(default="gptoss", pattern=_IDENTIFIER.pattern)
    """Project name; part of every resource name and the ``project`` cost tag."""

    region: str = Field(default="us-west-2", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    """AWS region of every stack. Default: ``us-west-2`` (Bedrock's gpt-oss launch region,
    where the AWS Price List also offers ml.p5.4xlarge hosting)."""

    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    """AWS account id. Default: none (environment-agnostic account: ``cdk synth`` needs no
    credentials; ``cdk deploy`` uses the caller's account)."""

    sagemaker: SageMakerConfig | None = None
    """The SageMaker endpoint; ``None`` deploys none."""

    bedrock: BedrockConfig | None = None
    """Bedrock access; ``None`` grants none."""

    cost: CostConfig = CostConfig()
    """Budgets, ledger table and cost dashboard (always deployed)."""

    tags: dict[str, str] = Field(default_factory=dict)
    """Extra cost-allocation tags on every resource (e.g. ``{"cost-center": "ml-123"}``)."""

    allow_unlisted_regions: bool = False
    """Skip the region tables (Bedrock gpt-oss regions, SageMaker hosting offers) when AWS
    has added a region since they were written. Default: ``False``."""

    @property
    def names(self) -> ResourceNames:
        return ResourceNames.of(self)

    @property
    def cost_tags(self) -> dict[str, str]:
        """Tags on every resource; activate ``project`` and ``environment`` as
        cost-allocation tags in the Billing console to split the bill by them."""
        return {"project": self.project, "environment": self.environment, **self.tags}


@dataclass(frozen=True)
class ResourceNames:
    """Physical names and export names, derived once so stacks, SDK and docs agree."""

    prefix: str
    sagemaker_stack: str
    weights_stack: str
    bedrock_stack: str
    cost_stack: str
    account_stack: str
    endpoint: str
    inference_component: str
    ledger_table: str
    budget: str
    export_prefix: str

    @classmethod
    def of(cls, config: DeploymentConfig) -> ResourceNames:
        prefix = f"{config.project}-{config.environment}"
        model = config.sagemaker.model if config.sagemaker else "none"
        stack = "".join(part.capitalize() for part in prefix.split("-"))
        return cls(
            prefix=prefix,
            sagemaker_stack=f"{stack}-SageMaker",
            weights_stack=f"{stack}-Weights",
            bedrock_stack=f"{stack}-Bedrock",
            cost_stack=f"{stack}-Cost",
            # No environment in it: one stack per project, account and region.
            account_stack=f"{''.join(p.capitalize() for p in config.project.split('-'))}-Account",
            endpoint=f"{prefix}-{model}",
            inference_component=f"{prefix}-{model}-ic",
            ledger_table=f"{prefix}-ledger",
            budget=f"{prefix}-monthly",
            export_prefix=prefix,
        )

    def inference_profile(self, team: str, model: str) -> str:
        return f"{self.prefix}-{team}-{model}"

    def mantle_project(self, team: str) -> str:
        """The team's Bedrock Mantle project name (unique per account: one per environment)."""
        return f"{self.prefix}-{team}"

    def export(self, what: str) -> str:
        """Stable CloudFormation export name, e.g. ``gptoss-dev:EndpointName``."""
        return f"{self.export_prefix}:{what}"
