"""ModelArtifacts, WeightsMirror and InferenceImage on a small stack, plus the mirror's verifier."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template
from harness import cfn_lint, nag_findings

from gptoss_infra.constructs.sagemaker import (
    InferenceImage,
    ModelArtifacts,
    WeightsMirror,
    mirror_verify,
)
from gptoss_infra.constructs.sagemaker.inference_image import DEFAULT_CONTAINER_DIR, REPO_ROOT

ECR_URI = "123456789012.dkr.ecr.us-west-2.amazonaws.com/gpt-oss/vllm:v0.32.0"


class Built:
    def __init__(self) -> None:
        self.app = cdk.App()
        self.stack = cdk.Stack(self.app, "Artifacts")
        self.artifacts = ModelArtifacts(self.stack, "Weights")
        self.mirror = WeightsMirror(self.stack, "Mirror", artifacts=self.artifacts)
        self.image = InferenceImage(
            self.stack, "Image", encryption_key=self.artifacts.encryption_key
        )
        self.given = InferenceImage(self.stack, "Given", image_uri=ECR_URI)
        self.reader = iam.Role(
            self.stack, "Reader", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com")
        )
        self.artifacts.grant_read(self.reader)
        self.given.grant_pull(self.reader)
        # The test's stand-in grantee: GptOssEndpoint acknowledges these on its own role.
        cdk.Validations.of(self.reader).acknowledge(
            *(
                cdk.Acknowledgment(id=rule, reason="test grantee")
                for rule in (
                    "AwsSolutions-IAM5[Resource::*]",
                    self.artifacts.prefix_wildcard_finding(),
                    "NIST.800.53.R5-IAMNoInlinePolicy",
                    "HIPAA.Security-IAMNoInlinePolicy",
                )
            )
        )
        self.template = Template.from_stack(self.stack)
        self.json: dict[str, Any] = dict(self.template.to_json())


@pytest.fixture(scope="module")
def built() -> Built:
    return Built()


def _of_type(built: Built, resource_type: str) -> dict[str, Any]:
    return dict(built.template.find_resources(resource_type))


def test_weights_bucket_is_kms_encrypted_versioned_private_and_logged(built: Built) -> None:
    buckets = _of_type(built, "AWS::S3::Bucket")
    weights = next(b for b in buckets.values() if "LoggingConfiguration" in b["Properties"])
    props = weights["Properties"]
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "KMSMasterKeyID" in rule["ServerSideEncryptionByDefault"]
    assert rule["BucketKeyEnabled"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    # Access logs go to the other (SSE-S3) bucket, through a bucket policy, not an ACL.
    logs_id = props["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    log_bucket = buckets[logs_id]["Properties"]
    assert (
        log_bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        == "AES256"
    )
    assert "AccessControl" not in log_bucket
    built.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_weights_bucket_denies_plain_http(built: Built) -> None:
    built.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_model_data_source_is_an_uncompressed_prefix(built: Built) -> None:
    source = cdk.Stack.of(built.artifacts).resolve(built.artifacts.model_data_source())
    s3 = source["s3DataSource"]
    assert s3["s3DataType"] == "S3Prefix"
    assert s3["compressionType"] == "None"
    uri = cdk.Stack.of(built.artifacts).resolve(built.artifacts.weights_s3_uri)
    assert uri["Fn::Join"][1][-1] == "/models/gpt-oss-120b/"
    assert built.artifacts.manifest_key == "models/gpt-oss-120b.manifest.json"


def _statements(built: Built, role_prefix: str) -> list[dict[str, Any]]:
    for logical_id, policy in _of_type(built, "AWS::IAM::Policy").items():
        if logical_id.startswith(role_prefix):
            return list(policy["Properties"]["PolicyDocument"]["Statement"])
    raise AssertionError(f"no policy for {role_prefix}")


def test_grant_read_covers_the_prefix_only(built: Built) -> None:
    statements = _statements(built, "Reader")
    by_action = {json.dumps(s["Action"]): s for s in statements}
    get = by_action['"s3:GetObject"']
    assert get["Resource"]["Fn::Join"][1][-1] == "/models/gpt-oss-120b/*"
    listing = by_action['"s3:ListBucket"']
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": ["models/gpt-oss-120b/", "models/gpt-oss-120b/*"]}
    }
    assert '"kms:Decrypt"' in by_action
    assert not any("s3:PutObject" in json.dumps(s["Action"]) for s in statements)


def test_bad_prefixes_are_reported_together() -> None:
    stack = cdk.Stack(cdk.App(), "Bad")
    with pytest.raises(ValueError, match="2 problems") as error:
        ModelArtifacts(stack, "Weights", weights_prefix="/models//gpt-oss")
    assert "ending in '/'" in str(error.value)
    assert "must not start with '/'" in str(error.value)


# -- weights mirror ------------------------------------------------------------------


def _project(built: Built, what: str = "Mirror") -> dict[str, Any]:
    (project,) = [
        p
        for p in _of_type(built, "AWS::CodeBuild::Project").values()
        if p["Properties"]["Description"].startswith(what)
    ]
    return dict(project["Properties"])


def test_mirror_project_is_encrypted_logged_and_unprivileged(built: Built) -> None:
    props = _project(built)
    assert props["EncryptionKey"]["Fn::GetAtt"][1] == "Arn"
    assert props["Environment"]["PrivilegedMode"] is False
    assert props["Environment"]["ComputeType"] == "BUILD_GENERAL1_LARGE"
    # Under the readiness gate's 55 minutes (a custom resource waits at most 60).
    assert props["TimeoutInMinutes"] == 50
    group = props["LogsConfig"]["CloudWatchLogs"]["GroupName"]["Ref"]
    log_group = built.json["Resources"][group]["Properties"]
    assert "KmsKeyId" in log_group
    assert log_group["RetentionInDays"] == 365
    env = {v["Name"]: v.get("Value") for v in props["Environment"]["EnvironmentVariables"]}
    assert env["HF_REPO"] == "openai/gpt-oss-120b"
    assert env["HF_REVISION"] == "main"
    assert env["PREFIX"] == "models/gpt-oss-120b/"
    assert env["MANIFEST_KEY"] == "models/gpt-oss-120b.manifest.json"


def test_mirror_downloads_checks_syncs_and_checks_again(built: Built) -> None:
    spec = json.loads(_project(built)["Source"]["BuildSpec"])
    commands = "\n".join(spec["phases"]["build"]["commands"])
    order = [
        'verify.py" manifest',
        "hf download",
        'verify.py" local',
        "aws s3 sync",
        "list-objects-v2",
        'verify.py" s3',
        "aws s3 cp",
    ]
    positions = [commands.index(step) for step in order]
    assert positions == sorted(positions)
    assert "--exclude 'original/*' --exclude 'metal/*'" in commands
    assert "--sse aws:kms" in commands
    assert "--delete" in commands
    install = " ".join(spec["phases"]["install"]["commands"])
    assert "huggingface_hub==2.4.0" in install
    # The embedded verifier is this repository's mirror_verify.py, byte for byte.
    embedded = re.search(r'echo "([A-Za-z0-9+/=]+)" \| base64 -d', commands)
    assert embedded is not None
    assert base64.b64decode(embedded.group(1)) == Path(mirror_verify.__file__).read_bytes()


def test_mirror_role_writes_the_prefix_and_manifest_only(built: Built) -> None:
    statements = _statements(built, "MirrorProjectRole")
    writes = [s for s in statements if "s3:PutObject" in json.dumps(s["Action"])]
    resources = [json.dumps(s["Resource"]) for s in writes]
    assert any("/models/gpt-oss-120b/*" in r for r in resources)
    assert any("/models/gpt-oss-120b.manifest.json" in r for r in resources)
    assert all("s3:*" not in json.dumps(s["Action"]) for s in statements)


def test_mirror_props_are_validated_together() -> None:
    stack = cdk.Stack(cdk.App(), "BadMirror")
    artifacts = ModelArtifacts(stack, "Weights")
    with pytest.raises(ValueError, match="3 problems"):
        WeightsMirror(
            stack,
            "Mirror",
            artifacts=artifacts,
            repo_id="not a repo",
            exclude_patterns=["original/*; rm -rf /"],
            timeout=cdk.Duration.hours(48),
        )


# -- inference image -----------------------------------------------------------------


def test_the_image_is_built_in_codebuild_from_a_file_asset_not_docker(built: Built) -> None:
    assert DEFAULT_CONTAINER_DIR == REPO_ROOT / "inference_container"
    assembly = built.app.synth()
    (manifest_path,) = Path(assembly.directory).glob("Artifacts.assets.json")
    manifest = json.loads(manifest_path.read_text())
    assert manifest.get("dockerImages", {}) == {}  # nothing for `cdk deploy` to build locally
    sources = [f["source"]["path"] for f in manifest["files"].values()]
    assert any(
        (Path(assembly.directory) / path / "inference_container" / "Dockerfile").is_file()
        for path in sources
    ), sources
    props = _project(built, "Build the gpt-oss serving image")
    assert props["Environment"]["PrivilegedMode"] is True  # docker build needs it
    assert props["Source"]["Type"] == "S3"
    assert props["TimeoutInMinutes"] == 50


def test_the_build_never_pulls_docker_hub_anonymously(built: Built) -> None:
    props = _project(built, "Build the gpt-oss serving image")
    commands = "\n".join(json.loads(props["Source"]["BuildSpec"])["phases"]["build"]["commands"])
    env = {v["Name"]: v.get("Value") for v in props["Environment"]["EnvironmentVariables"]}
    assert env["DOCKERHUB_SECRET"] == "ecr-pullthroughcache/docker-hub"
    assert env["UPSTREAM_IMAGE"] == "vllm/vllm-openai:v0.32.0"
    assert "create-pull-through-cache-rule" in commands
    assert "--upstream-registry-url registry-1.docker.io" in commands
    # The FROM line is replaced by the ECR copy before `docker build`; no `docker pull` of
    # the upstream name happens.
    assert commands.index('sed -i "s#^FROM $UPSTREAM_IMAGE') < commands.index("docker build")
    assert 'docker pull "$UPSTREAM_IMAGE"' not in commands


def test_the_model_gets_the_gate_digest_not_a_tag(built: Built) -> None:
    gates = _of_type(built, "Custom::GptOssImageReady")
    ((gate_id, gate),) = gates.items()
    assert gate["Properties"]["Tag"].startswith("src-")
    assert str(gate["Properties"]["ServiceTimeout"]) == "3600"  # the maximum
    assert cdk.Stack.of(built.image).resolve(built.image.image_uri) == {
        "Fn::GetAtt": [gate_id, "ImageUri"]
    }


def test_image_build_props_are_validated_together(tmp_path: Path) -> None:
    (tmp_path / "facts").mkdir()
    (tmp_path / "inference_container").mkdir()
    (tmp_path / "inference_container" / "Dockerfile").write_text("FROM ubuntu:24.04\n")
    stack = cdk.Stack(cdk.App(), "BadBuild")
    with pytest.raises(ValueError, match="3 problems") as error:
        InferenceImage(
            stack,
            "Image",
            directory=tmp_path,
            base_image_uri="vllm/vllm-openai:v0.32.0",
            dockerhub_secret_name="dockerhub",
        )
    assert "must start FROM vllm/vllm-openai:v0.32.0" in str(error.value)


def test_given_image_uri_is_used_and_pullable(built: Built) -> None:
    assert built.given.image_uri == ECR_URI
    statements = _statements(built, "Reader")
    pull = next(s for s in statements if "ecr:BatchGetImage" in json.dumps(s["Action"]))
    assert json.dumps(pull["Resource"]).endswith(
        '":ecr:us-west-2:123456789012:repository/gpt-oss/vllm"]]}'
    )
    assert any(s["Action"] == "ecr:GetAuthorizationToken" for s in statements)


@pytest.mark.parametrize(
    "uri",
    [
        "docker.io/vllm/vllm-openai:v0.32.0",
        "123456789012.dkr.ecr.us-west-2.amazonaws.com/repo",  # neither tag nor digest
        "public.ecr.aws/vllm/vllm-openai:latest",
    ],
)
def test_non_ecr_image_uris_are_refused(uri: str) -> None:
    stack = cdk.Stack(cdk.App(), "BadImage")
    with pytest.raises(ValueError, match="not an Amazon ECR image URI"):
        InferenceImage(stack, "Image", image_uri=uri)


def test_digest_uri_is_accepted() -> None:
    stack = cdk.Stack(cdk.App(), "Digest")
    uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/vllm@sha256:" + "a" * 64
    assert InferenceImage(stack, "Image", image_uri=uri).image_uri == uri


# -- security checks -----------------------------------------------------------------


def test_no_unacknowledged_nag_findings(built: Built) -> None:
    assert [str(f) for f in nag_findings(built.stack)] == []


def test_cfn_lint_is_clean(built: Built) -> None:
    assert cfn_lint(built.json) == []


# -- the verifier the mirror job runs --------------------------------------------------


def _git_blob(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    weights = tmp_path / "weights"
    weights.mkdir()
    shard = b"\x00" * 1000 + b"weights"
    config = b'{"model_type": "gpt_oss"}'
    (weights / "model-00001-of-00001.safetensors").write_bytes(shard)
    (weights / "config.json").write_bytes(config)
    (weights / ".cache" / "huggingface").mkdir(parents=True)
    (weights / ".cache" / "huggingface" / "x.lock").write_text("")
    manifest = {
        "repo_id": "openai/gpt-oss-120b",
        "revision": "main",
        "sha": "abc",
        "files": [
            {
                "path": "model-00001-of-00001.safetensors",
                "size": len(shard),
                "sha256": hashlib.sha256(shard).hexdigest(),
                "git_blob_id": None,
            },
            {
                "path": "config.json",
                "size": len(config),
                "sha256": None,
                "git_blob_id": _git_blob(config),
            },
        ],
    }
    return weights, manifest


def test_verifier_accepts_a_faithful_copy(mirror: tuple[Path, dict[str, Any]]) -> None:
    weights, manifest = mirror
    assert mirror_verify.check_local(manifest, weights) == []


def test_verifier_reports_every_local_problem(mirror: tuple[Path, dict[str, Any]]) -> None:
    weights, manifest = mirror
    (weights / "config.json").write_bytes(b'{"model_type": "gpt_osx"}')  # same size, new content
    (weights / "model-00001-of-00001.safetensors").write_bytes(b"short")
    (weights / "original").mkdir()
    (weights / "original" / "model.safetensors").write_bytes(b"dup")
    problems = mirror_verify.check_local(manifest, weights)
    assert len(problems) == 3
    assert any("config.json: git blob" in p for p in problems)
    assert any("5 bytes, the hub says" in p for p in problems)
    assert any("original/model.safetensors: not in the manifest" in p for p in problems)


def test_verifier_checks_the_uploaded_prefix(mirror: tuple[Path, dict[str, Any]]) -> None:
    _, manifest = mirror
    prefix = "models/gpt-oss-120b/"
    good = {"Contents": [{"Key": prefix + f["path"], "Size": f["size"]} for f in manifest["files"]]}
    assert mirror_verify.check_s3(manifest, good, prefix) == []
    stale = {"Contents": [*good["Contents"][1:], {"Key": prefix + "old.safetensors", "Size": 1}]}
    problems = mirror_verify.check_s3(manifest, stale, prefix)
    assert problems == [
        f"s3 key {prefix}model-00001-of-00001.safetensors: missing",
        f"s3 key {prefix}old.safetensors: not in the manifest",
    ]


def test_verifier_command_line_exit_codes(
    mirror: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    weights, manifest = mirror
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    assert mirror_verify.main(["local", "--manifest", str(path), "--dir", str(weights)]) == 0
    listing = tmp_path / "listing.json"
    listing.write_text("")  # an empty prefix: list-objects-v2 prints nothing
    assert (
        mirror_verify.main(
            ["s3", "--manifest", str(path), "--listing", str(listing), "--prefix", "p/"]
        )
        == 1
    )
