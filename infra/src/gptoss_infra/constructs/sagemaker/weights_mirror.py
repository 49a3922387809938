"""A CodeBuild project that copies the gpt-oss weights from Hugging Face into the bucket.

This job and the image build are the only parts of the deployment that need the
internet. It runs in CodeBuild, outside the endpoint: the endpoint's model has network
isolation and reads the weights from S3 only. ``cdk deploy`` runs it through the
``Custom::GptOssWeightsReady`` gate (GptOssWeightsStack) before the model exists, and skips
it when the manifest says the prefix already holds this revision; by hand:

    aws codebuild start-build --project-name <project>   # see `start_build_command`

Steps: ask the hub for the revision's file list (sizes, sha256 of LFS files, git blob ids
of small files) and pin it to a commit sha; `hf download` (huggingface_hub >= 1.0 renamed
`huggingface-cli download` to `hf download`); check every file against that list; `aws s3
sync --delete` into the prefix with the bucket's KMS key; list the prefix and check it
against the list again; write the list beside the prefix as `<prefix>.manifest.json`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from gptoss_facts.models import GPT_OSS_120B

from .._common import PropErrors, acknowledge
from ._util import allow_log_encryption
from .model_artifacts import ModelArtifacts

_HUB_REPO = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")
_REVISION = re.compile(r"^[\w./-]{1,255}$")
_PATTERN = re.compile(r"^[\w./*?\[\]-]+$")
_VERIFY_SCRIPT = Path(__file__).with_name("mirror_verify.py")
# The huggingface_hub the job installs: the version our engine lock pins
# (requirements/engine.lock), so the CLI we test locally is the one that runs.
HUGGINGFACE_HUB_VERSION = "2.4.0"
# openai/gpt-oss-* repositories carry the same weights three times: the safetensors
# shards vLLM loads at the root, `original/` (OpenAI's reference format) and `metal/`
# (Apple Metal). Only the root is needed; the others would triple the download.
DEFAULT_EXCLUDES = ("original/*", "metal/*")
# CodeBuild's timeout range is 5-2160 minutes (CreateProject API, timeoutInMinutes).
_MIN_TIMEOUT_MIN, _MAX_TIMEOUT_MIN = 5, 2160
# Below the readiness gate's 55 minutes (a custom resource waits at most one hour), so a
# copy that is too slow ends as a CodeBuild TIMED_OUT with its logs link. 61 GiB at the
# ~100 MB/s a LARGE build sustains end to end (download, two hashes, upload) is ~11 minutes.
DEFAULT_TIMEOUT = Duration.minutes(50)
# The build phase's commands, one a line (package data beside this module).
_BUILD_SCRIPT = Path(__file__).with_name("weights_mirror.sh")


class WeightsMirror(Construct):
    """Mirror a Hugging Face model repository into a ModelArtifacts prefix, verified.

    :param artifacts: the bucket and prefix to fill (required).
    :param repo_id: Hugging Face repository. Default: ``"openai/gpt-oss-120b"``.
    :param revision: branch, tag or commit. Default: ``"main"``; the job pins it to the
        commit sha it resolves and records that in the manifest. Pin a sha for
        reproducible deployments.
    :param exclude_patterns: repository paths not to copy.
        Default: ``("original/*", "metal/*")`` (duplicate formats of the same weights).
    :param compute_type: CodeBuild compute. Default: ``BUILD_GENERAL1_LARGE`` (8 vCPU,
        128 GB disk per the CodeBuild build-env-ref-compute-types table: room for the
        ~65 GB of 120b shards; the 20b fits MEDIUM).
    :param timeout: build timeout. Default: 50 minutes, under the readiness gate's 55
        (download, hash and upload of 65 GB at a few hundred MB/s take well under that).
    :param log_retention: build log retention. Default: one year.
    :param hf_token_secret: Secrets Manager secret holding a Hugging Face token, exposed as
        ``HF_TOKEN``. Default: none (openai/gpt-oss-* are public, Apache-2.0).
    :param removal_policy: for the log group. Default: ``RemovalPolicy.RETAIN``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        artifacts: ModelArtifacts,
        repo_id: str = GPT_OSS_120B.hub_id,
        revision: str = "main",
        exclude_patterns: Sequence[str] = DEFAULT_EXCLUDES,
        compute_type: codebuild.ComputeType = codebuild.ComputeType.LARGE,
        timeout: Duration = DEFAULT_TIMEOUT,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        hf_token_secret: secretsmanager.ISecret | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        _check_props(repo_id, revision, exclude_patterns, timeout)
        self.artifacts = artifacts
        self.repo_id = repo_id
        self.revision = revision
        key = artifacts.encryption_key
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        # The group has no name: CloudFormation names it after the stack.
        allow_log_encryption(key, [f"{Stack.of(self).stack_name}-*"])
        variables = {
            "HF_REPO": repo_id,
            "HF_REVISION": revision,
            "BUCKET": artifacts.bucket.bucket_name,
            "PREFIX": artifacts.weights_prefix,
            "MANIFEST_KEY": artifacts.manifest_key,
            "KMS_KEY_ARN": key.key_arn,
            "HF_HUB_DISABLE_TELEMETRY": "1",
        }
        plain = codebuild.BuildEnvironmentVariableType.PLAINTEXT
        self.project = codebuild.Project(
            self,
            "Project",
            description=f"Mirror {repo_id} from Hugging Face into the model weights bucket",
            build_spec=mirror_build_spec(exclude_patterns, hf_token_secret),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=compute_type,
                privileged=False,
            ),
            environment_variables={
                name: codebuild.BuildEnvironmentVariable(value=value, type=plain)
                for name, value in variables.items()
            },
            encryption_key=key,
            timeout=timeout,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)
            ),
        )
        self.role: iam.IRole = self.project.role  # type: ignore[assignment]
        artifacts.grant_write(self.project)
        if hf_token_secret is not None:
            hf_token_secret.grant_read(self.project)
        self._acknowledge()

    def _acknowledge(self) -> None:
        acknowledge(
            self.project,
            [
                (
                    self.artifacts.prefix_wildcard_finding(),
                    "The job writes every file of the model under the weights prefix; the "
                    "grant is limited to that prefix.",
                ),
                *codebuild_default_grants(self.project, "job"),
                *(
                    (
                        f"AwsSolutions-IAM5[Action::{action}]",
                        "CDK's grant for the project's encryption key (CodeBuild encrypts its "
                        "artifacts and cache with it); limited to that one key.",
                    )
                    for action in ("kms:ReEncrypt*", "kms:GenerateDataKey*")
                ),
                (
                    "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
                    "The project has no source repository (NO_SOURCE): the buildspec is inline "
                    "and holds no credentials.",
                ),
                *(
                    (
                        f"{pack}-IAMNoInlinePolicy",
                        "CDK's default policy of the project role: it names this job's bucket "
                        "prefix, key and log group, and is created and deleted with the role.",
                    )
                    for pack in ("NIST.800.53.R5", "HIPAA.Security")
                ),
            ],
        )

    @property
    def start_build_command(self) -> str:
        """The CLI command that runs the mirror (a token until deploy: put it in an output)."""
        return f"aws codebuild start-build --project-name {self.project.project_name}"


def _check_props(
    repo_id: str, revision: str, exclude_patterns: Sequence[str], timeout: Duration
) -> None:
    problems = PropErrors("WeightsMirror props")
    problems.check(
        bool(_HUB_REPO.match(repo_id)),
        f"repo_id {repo_id!r} is not a Hugging Face repository id like 'openai/gpt-oss-120b'",
    )
    problems.check(
        bool(_REVISION.match(revision)),
        f"revision {revision!r} must be a branch, tag or commit sha without spaces",
    )
    for pattern in exclude_patterns:
        problems.check(
            bool(_PATTERN.match(pattern)),
            f"exclude pattern {pattern!r} may hold letters, digits and . _ / - * ? [ ] only "
            "(it is written into a shell command)",
        )
    minutes = timeout.to_minutes()
    problems.check(
        _MIN_TIMEOUT_MIN <= minutes <= _MAX_TIMEOUT_MIN,
        f"timeout is {minutes} minutes; CodeBuild allows {_MIN_TIMEOUT_MIN}-{_MAX_TIMEOUT_MIN}",
    )
    problems.raise_if_any()


def codebuild_default_grants(project: codebuild.Project, what: str) -> list[tuple[str, str]]:
    """The findings on the grants CDK gives every CodeBuild project (its default log group
    and its test-report groups), acknowledged with the reason; ``what`` names the project
    in the reason ("job", "build")."""
    stack = Stack.of(project)
    project_id = stack.resolve(stack.get_logical_id(project.node.default_child))  # type: ignore[arg-type]
    region, account = _arn_part(stack.region), _arn_part(stack.account)
    return [
        (
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:{region}:{account}:"
            f"log-group:/aws/codebuild/<{project_id}>:*]",
            f"CDK grants every project its default log group's streams; the {what} logs to "
            "the encrypted group above, streams are named per build.",
        ),
        (
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:codebuild:{region}:"
            f"{account}:report-group/<{project_id}>-*]",
            "CDK grants every project its own test-report groups (named after the "
            f"project); the {what} publishes none.",
        ),
    ]


def script_commands(script: Path) -> list[str]:
    """The commands of a one-command-a-line shell file: comments and blank lines dropped."""
    lines = (line.strip() for line in script.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def mirror_build_spec(
    exclude_patterns: Sequence[str], hf_token_secret: secretsmanager.ISecret | None
) -> codebuild.BuildSpec:
    """The job's buildspec: install the hub CLI, write the verifier, run weights_mirror.sh.

    The exclude patterns were validated to plain glob characters, so quoting them in the
    EXCLUDES array is safe; the verifier travels inside the buildspec because the project
    has no source (NO_SOURCE).
    """
    excludes = " ".join(f"--exclude '{p}'" for p in exclude_patterns)
    verifier = base64.b64encode(_VERIFY_SCRIPT.read_bytes()).decode()
    env: dict[str, object] = {}
    if hf_token_secret is not None:
        env["secrets-manager"] = {"HF_TOKEN": hf_token_secret.secret_arn}
    prelude = [
        "set -euo pipefail",
        'WORK="${CODEBUILD_SRC_DIR:-/tmp}/mirror"; mkdir -p "$WORK/weights"',
        f"EXCLUDES=({excludes})",
        f'echo "{verifier}" | base64 -d > "$WORK/verify.py"',
    ]
    return codebuild.BuildSpec.from_object(
        {
            "version": "0.2",
            "env": {"shell": "bash", **env},
            "phases": {
                "install": {
                    "commands": [
                        "python3 -m pip install --quiet --disable-pip-version-check "
                        f"'huggingface_hub=={HUGGINGFACE_HUB_VERSION}'",
                    ]
                },
                "build": {"commands": prelude + script_commands(_BUILD_SCRIPT)},
            },
        }
    )


def _arn_part(value: str) -> str:
    """How cdk-nag prints a region or account in a finding id: literal, or <AWS::...>."""
    if Token.is_unresolved(value):
        return "<AWS::Region>" if "Region" in value else "<AWS::AccountId>"
    return value
