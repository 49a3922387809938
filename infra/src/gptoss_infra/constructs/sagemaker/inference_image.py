"""The serving image: built in the cloud from inference_container/ and facts/, or an ECR URI.

SageMaker pulls private inference images from Amazon ECR only (a registry in your VPC
needs ImageConfig RepositoryAccessMode=Vpc, which this construct does not offer), so a
given URI must be an ECR URI.

Without a URI nothing is built on the deploying machine (no Docker there): the
repository's ``facts/`` and ``inference_container/`` (the image installs both) are one plain
S3 file asset, a privileged CodeBuild project builds it with ``docker build --file
inference_container/Dockerfile .`` on top of ``vllm/vllm-openai:v0.32.0`` and pushes it to
this construct's ECR repository, and a ``Custom::GptOssImageReady`` gate waits for the
push. The image URI the model gets is the gate's ``ImageUri`` attribute
(``<repository>@sha256:<digest>``), so the model cannot be created before the image
exists. The tag is a hash of the source asset and the base image: a re-deploy with the
same inputs finds the tag and builds nothing.

The base image never comes from Docker Hub anonymously (CodeBuild shares outbound
addresses, and Docker Hub limits anonymous pulls per address): either ``base_image_uri``
(an ECR copy you provide) or an ECR pull-through cache rule for Docker Hub that
authenticates with your Docker Hub token from Secrets Manager (ECR user guide,
pull-through-cache-creating-rule: the secret name must begin with
``ecr-pullthroughcache/``). The build creates the rule when the registry has none for the
prefix, and never deletes it: a rule is per registry (account and Region), shared by every
environment, and ``make destroy`` lists it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from gptoss_facts.cuda import BASE_IMAGE

from .._common import PropErrors, acknowledge
from ._ecr import PULL_ACTIONS, parse_ecr_uri, pull_through_statements, repository_arn
from .readiness_gate import DEFAULT_GATE_TIME, ReadinessGate
from .weights_mirror import _arn_part, codebuild_default_grants, script_commands

# infra/src/gptoss_infra/constructs/sagemaker/inference_image.py -> repository root.
# Computed from this file, not the working directory, so `cdk synth` and pytest agree.
REPO_ROOT = Path(__file__).resolve().parents[5]
DEFAULT_CONTAINER_DIR = REPO_ROOT / "inference_container"
# The build context is the repository root, cut down to the folders the Dockerfile copies:
# the container and the shared facts package it installs.
SOURCE_FOLDERS = ("facts", "inference_container")
DOCKERFILE = "inference_container/Dockerfile"  # relative to the context
# BASE_IMAGE (gptoss_facts.cuda) is the Dockerfile's FROM; the build swaps it for the ECR
# copy of the same image.
DEFAULT_PULL_THROUGH_PREFIX = "docker-hub"
# A secret name, not a secret.
DEFAULT_DOCKERHUB_SECRET = "ecr-pullthroughcache/docker-hub"  # noqa: S105
# Pulling the ~10 GB base image and pushing one thin layer: minutes, not an hour; below the
# gate's 55 minutes so a slow build ends as a CodeBuild timeout with its logs link.
DEFAULT_BUILD_TIMEOUT = Duration.minutes(50)
# The build phase's commands, one a line (package data beside this module).
_BUILD_SCRIPT = Path(__file__).with_name("inference_image.sh")


def asset_excludes(folders: Sequence[str] = SOURCE_FOLDERS) -> list[str]:
    """Glob excludes that keep only ``folders`` of the context (CDK's glob ignore: later
    patterns win, ``!`` re-includes), minus what the image does not need.

    Keeping local caches, build metadata and the container's docs out keeps the asset hash
    (and so the image tag) stable when only they change. ``facts/README.md`` stays: its
    pyproject names it as the readme, and pip refuses to build without it.
    """
    keep = [pattern for folder in folders for pattern in (f"!{folder}", f"!{folder}/**")]
    # minimatch's "*" skips dot-files; ".*" drops them at every depth (.venv*, .gitignore,
    # tool caches), since a later "!folder/**" does not match dot-files either.
    return [
        "*",
        ".*",
        *keep,
        "**/__pycache__",
        "**/*.pyc",
        "**/*.egg-info",
        "inference_container/**/*.md",
    ]


class InferenceImage(Construct):
    """The container image for the model, with the pull permissions SageMaker needs.

    :param image_uri: an existing ECR image (``<account>.dkr.ecr.<region>.amazonaws.com/
        <repo>:<tag>`` or ``@sha256:<digest>``). Default: ``None``, build ``directory`` in
        CodeBuild.
    :param directory: the build context when no URI is given: a folder holding
        ``inference_container/Dockerfile`` and ``facts/``, of which only those two folders
        are uploaded. Default: the repository root (found from this file).
    :param repository_name: the ECR repository the build pushes to. Default: derived by
        CloudFormation.
    :param base_image_uri: an ECR copy of ``vllm/vllm-openai:v0.32.0`` to build FROM.
        Default: none; pulled through the ECR pull-through cache for Docker Hub.
    :param dockerhub_secret_name: Secrets Manager secret with the Docker Hub credentials of
        the pull-through cache rule. Default: ``ecr-pullthroughcache/docker-hub``.
    :param pull_through_prefix: ECR repository prefix of that rule. Default: ``docker-hub``
        (the prefix the ECR console uses for Docker Hub).
    :param build_timeout: CodeBuild timeout of the image build. Default: 50 minutes (the
        gate gives up after 55).
    :param encryption_key: KMS key for the build's logs and artifacts. Default: CodeBuild's
        AWS managed key, and unencrypted-at-rest-by-KMS logs are refused: give one.
    :param removal_policy: for the repository (its images are deleted with it) and the build
        logs. Default: ``DESTROY`` (the image is rebuilt from source in minutes).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image_uri: str | None = None,
        directory: str | Path | None = None,
        repository_name: str | None = None,
        base_image_uri: str | None = None,
        dockerhub_secret_name: str = DEFAULT_DOCKERHUB_SECRET,
        pull_through_prefix: str = DEFAULT_PULL_THROUGH_PREFIX,
        build_timeout: Duration = DEFAULT_BUILD_TIMEOUT,
        encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, construct_id)
        self.repository: ecr.IRepository | None = None
        self.project: codebuild.Project | None = None
        self.gate: ReadinessGate | None = None
        self._repository_arn: str | None = None
        if image_uri is not None:
            match = _given_uri_match(image_uri, directory, base_image_uri)
            self._repository_arn = repository_arn(self, match)
            self.image_uri: str = image_uri
            return
        context = Path(directory) if directory is not None else REPO_ROOT
        base_match = _check_build_props(context, base_image_uri, dockerhub_secret_name)
        self.source = s3_assets.Asset(
            self, "Source", path=str(context), exclude=asset_excludes(SOURCE_FOLDERS)
        )
        repository = ecr.Repository(
            self,
            "Repository",
            repository_name=repository_name,
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            removal_policy=removal_policy,
            empty_on_delete=removal_policy == RemovalPolicy.DESTROY,
        )
        self.repository = repository
        # Same inputs, same tag: a re-deploy finds it and builds nothing. The asset hash
        # covers facts/ and inference_container/ alike.
        inputs = f"{self.source.asset_hash}|{base_image_uri or pull_through_prefix}|{BASE_IMAGE}"
        self.tag = "src-" + hashlib.sha256(inputs.encode()).hexdigest()[:24]
        self.log_group = logs.LogGroup(
            self,
            "BuildLogs",
            encryption_key=encryption_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=removal_policy,
        )
        project = self._project(
            {
                "REPO_URI": repository.repository_uri,
                "IMAGE_TAG": self.tag,
                "UPSTREAM_IMAGE": BASE_IMAGE,
                "BASE_IMAGE_URI": base_image_uri or "",
                "PTC_PREFIX": pull_through_prefix,
                "DOCKERHUB_SECRET": dockerhub_secret_name,
                "DOCKERFILE": DOCKERFILE,
            },
            build_timeout,
            encryption_key,
        )
        repository.grant_pull_push(project)
        self._grant_base_image(project, base_match, pull_through_prefix, dockerhub_secret_name)
        self.gate = self._gate(project, repository, encryption_key)
        # The digest the gate reports, not the tag: the model runs exactly what was built.
        self.image_uri = self.gate.attribute("ImageUri")
        self._acknowledge(project, pull_through_prefix if base_match is None else None)

    def _grant_base_image(
        self,
        project: codebuild.Project,
        base_match: re.Match[str] | None,
        pull_through_prefix: str,
        dockerhub_secret_name: str,
    ) -> None:
        """Pull the given ECR copy, else create and pull through the cache rule."""
        role = project.role
        assert role is not None
        if base_match is not None:
            arn = repository_arn(self, base_match)
            statements = [iam.PolicyStatement(actions=PULL_ACTIONS, resources=[arn])]
        else:
            stack = Stack.of(self)
            statements = pull_through_statements(stack, pull_through_prefix, dockerhub_secret_name)
        for statement in statements:
            role.add_to_principal_policy(statement)

    def _project(
        self,
        variables: dict[str, str],
        build_timeout: Duration,
        encryption_key: kms.IKey | None,
    ) -> codebuild.Project:
        plain = codebuild.BuildEnvironmentVariableType.PLAINTEXT
        self.project = codebuild.Project(
            self,
            "Build",
            description=f"Build the gpt-oss serving image on {BASE_IMAGE} and push it to ECR",
            source=codebuild.Source.s3(bucket=self.source.bucket, path=self.source.s3_object_key),
            build_spec=codebuild.BuildSpec.from_object(
                {
                    "version": "0.2",
                    "env": {"shell": "bash"},
                    "phases": {"build": {"commands": script_commands(_BUILD_SCRIPT)}},
                }
            ),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.LARGE,
                # Docker-in-Docker needs a privileged build container (CodeBuild user guide,
                # "Docker in custom image" / sample-docker).
                privileged=True,
            ),
            environment_variables={
                name: codebuild.BuildEnvironmentVariable(value=value, type=plain)
                for name, value in variables.items()
            },
            encryption_key=encryption_key,
            timeout=build_timeout,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)
            ),
        )
        return self.project

    def _gate(
        self,
        project: codebuild.Project,
        repository: ecr.Repository,
        encryption_key: kms.IKey | None,
    ) -> ReadinessGate:
        gate = ReadinessGate(
            self,
            "Ready",
            resource_type="Custom::GptOssImageReady",
            properties={
                "Kind": "image",
                "ProjectName": project.project_name,
                "RepositoryName": repository.repository_name,
                "RepositoryUri": repository.repository_uri,
                "Tag": self.tag,
            },
            project=project,
            build_logs=self.log_group,
            total_timeout=DEFAULT_GATE_TIME,
            encryption_key=encryption_key,
        )
        gate.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecr:DescribeImages"], resources=[repository.repository_arn]
            )
        )
        return gate

    def _acknowledge(self, project: codebuild.Project, cache_prefix: str | None) -> None:
        stack = Stack.of(self)
        region, account = _arn_part(stack.region), _arn_part(stack.account)
        findings = [
            (
                "AwsSolutions-IAM5[Resource::*]",
                "ecr:GetAuthorizationToken has no resource-level permissions (ECR service "
                "authorization reference); docker login needs it.",
            ),
            *codebuild_default_grants(project, "build"),
            *(
                (
                    f"AwsSolutions-IAM5[Action::{action}]",
                    "CDK's read grant on the build's source asset in the CDK assets bucket "
                    "and its key grant for build artifacts: limited to that bucket and key.",
                )
                for action in (
                    "s3:GetBucket*",
                    "s3:GetObject*",
                    "s3:List*",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                )
            ),
            (
                "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
                "The source is this app's S3 asset (facts/ and inference_container/), not a "
                "GitHub or Bitbucket repository; there are no credentials to protect with OAuth.",
            ),
            *(
                (
                    f"{pack}-IAMNoInlinePolicy",
                    "CDK's default policy of the build role: it names this build's source "
                    "asset, repository and log group, and is deleted with the role.",
                )
                for pack in ("NIST.800.53.R5", "HIPAA.Security")
            ),
        ]
        if cache_prefix is not None:
            findings += [
                (
                    f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:{region}:{account}:"
                    f"repository/{cache_prefix}/*]",
                    "The pull-through cache creates one repository per upstream image under "
                    "its prefix on first pull (ECR user guide, pull-through-cache-iam); the "
                    "grant is limited to that prefix.",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:{region}:{account}:"
                    "registry/*]",
                    "Pull-through cache rules belong to the registry, which has no narrower "
                    "resource ARN; only Describe/CreatePullThroughCacheRule are granted.",
                ),
            ]
        acknowledge(project, findings)

    def grant_pull(self, grantee: iam.IGrantable) -> iam.Grant:
        """Pull this image: the three repository actions plus ecr:GetAuthorizationToken.

        GetAuthorizationToken has no resource-level permissions (ECR service authorization
        reference), so it is granted on '*'; a cross-account repository also needs a
        repository policy that lets this account pull.
        """
        if self.repository is not None:
            return self.repository.grant_pull(grantee)
        assert self._repository_arn is not None
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=PULL_ACTIONS, resource_arns=[self._repository_arn]
        )
        ecr.AuthorizationToken.grant_read(grantee)
        return grant


def _given_uri_match(
    image_uri: str, directory: str | Path | None, base_image_uri: str | None
) -> re.Match[str]:
    problems = PropErrors("InferenceImage props")
    problems.check(
        directory is None and base_image_uri is None,
        "give either image_uri or directory/base_image_uri, not both",
    )
    match = parse_ecr_uri(image_uri)
    problems.check(
        match is not None,
        f"image_uri {image_uri!r} is not an Amazon ECR image URI "
        "(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or "
        "@sha256:<digest>); SageMaker pulls private images from ECR only",
    )
    problems.raise_if_any()
    assert match is not None  # for mypy; checked above
    return match


def _check_build_props(
    context: Path, base_image_uri: str | None, dockerhub_secret_name: str
) -> re.Match[str] | None:
    """Check what a cloud build needs; the ECR match of ``base_image_uri`` if given."""
    problems = PropErrors("InferenceImage props")
    dockerfile = context / DOCKERFILE
    problems.check(dockerfile.is_file(), f"no {DOCKERFILE} in {context}; pass image_uri=")
    if dockerfile.is_file():
        problems.check(
            f"FROM {BASE_IMAGE}" in dockerfile.read_text().splitlines(),
            f"{dockerfile} must start FROM {BASE_IMAGE}: the build replaces that line "
            "with the ECR copy of the base image",
        )
    for folder in SOURCE_FOLDERS:
        problems.check(
            (context / folder).is_dir(),
            f"no {folder}/ in {context}: the image is built from {' and '.join(SOURCE_FOLDERS)}",
        )
    base_match = parse_ecr_uri(base_image_uri) if base_image_uri else None
    problems.check(
        base_image_uri is None or base_match is not None,
        f"base_image_uri {base_image_uri!r} is not an Amazon ECR image URI",
    )
    problems.check(
        dockerhub_secret_name.startswith("ecr-pullthroughcache/"),
        f"dockerhub_secret_name {dockerhub_secret_name!r} must begin with "
        "'ecr-pullthroughcache/' (ECR pull-through cache requirement)",
    )
    problems.raise_if_any()
    return base_match
