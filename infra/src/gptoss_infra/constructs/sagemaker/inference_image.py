"""The serving image: built from inference_container/ as a CDK asset, or an ECR image URI.

SageMaker pulls private inference images from Amazon ECR only (a registry in your VPC
needs ImageConfig RepositoryAccessMode=Vpc, which this construct does not offer), so a
given URI must be an ECR URI. A DockerImageAsset synthesizes without Docker: the image is
built and pushed by `cdk deploy`, which is the only step that needs a Docker engine.
"""

from __future__ import annotations

import re
from pathlib import Path

from aws_cdk import Arn, ArnComponents, ArnFormat, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from constructs import Construct

from .._common import PropErrors

# <registry-account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>(:<tag>|@sha256:<digest>)
# (ECR user guide, registries.html and docker-pull-ecr-image.html).
ECR_IMAGE_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)"
    r"\.amazonaws\.com(?:\.cn)?/(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127})|@(?P<digest>sha256:[a-f0-9]{64}))$"
)

# infra/src/gptoss_infra/constructs/sagemaker/inference_image.py -> repository root.
# Computed from this file, not the working directory, so `cdk synth` and pytest agree.
REPO_ROOT = Path(__file__).resolve().parents[5]
DEFAULT_CONTAINER_DIR = REPO_ROOT / "inference_container"

# Files the image does not need; keeping them out keeps the asset hash stable when only
# docs or local caches change.
_ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", ".venv*", "**/.pytest_cache", "*.md"]


def parse_ecr_uri(uri: str) -> re.Match[str] | None:
    return ECR_IMAGE_URI.match(uri)


class InferenceImage(Construct):
    """The container image for the model, with the pull permissions SageMaker needs.

    :param image_uri: an existing ECR image (``<account>.dkr.ecr.<region>.amazonaws.com/
        <repo>:<tag>`` or ``@sha256:<digest>``). Default: ``None``, build ``directory``.
    :param directory: the Docker build context when no URI is given.
        Default: the repository's ``inference_container/`` (found from this file).
    :param platform: image platform. Default: ``linux/amd64`` (SageMaker GPU instances
        are x86_64).
    :param build_args: Docker build arguments. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image_uri: str | None = None,
        directory: str | Path | None = None,
        platform: ecr_assets.Platform | None = None,
        build_args: dict[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        problems = PropErrors("InferenceImage props")
        self.asset: ecr_assets.DockerImageAsset | None = None
        self._repository_arn: str | None = None
        if image_uri is not None:
            problems.check(
                directory is None and build_args is None,
                "give either image_uri or directory/build_args, not both",
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
            self._repository_arn = Arn.format(
                ArnComponents(
                    service="ecr",
                    region=match["region"],
                    account=match["account"],
                    resource="repository",
                    resource_name=match["repository"],
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                ),
                Stack.of(self),
            )
            self.image_uri: str = image_uri
            return

        context = Path(directory) if directory is not None else DEFAULT_CONTAINER_DIR
        problems.check(
            (context / "Dockerfile").is_file(),
            f"no Dockerfile in {context}; pass directory= or image_uri=",
        )
        problems.raise_if_any()
        self.asset = ecr_assets.DockerImageAsset(
            self,
            "Asset",
            directory=str(context),
            platform=platform or ecr_assets.Platform.LINUX_AMD64,
            build_args=build_args,
            exclude=_ASSET_EXCLUDES,
        )
        self.image_uri = self.asset.image_uri

    def grant_pull(self, grantee: iam.IGrantable) -> iam.Grant:
        """Pull this image: the three repository actions plus ecr:GetAuthorizationToken.

        GetAuthorizationToken has no resource-level permissions (ECR service authorization
        reference), so it is granted on '*'; a cross-account repository also needs a
        repository policy that lets this account pull.
        """
        if self.asset is not None:
            return self.asset.repository.grant_pull(grantee)
        assert self._repository_arn is not None
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
            ],
            resource_arns=[self._repository_arn],
        )
        ecr.AuthorizationToken.grant_read(grantee)
        return grant
