"""creation-order: weights and image are ready before the model that loads them.

SageMaker downloads the model data and pulls the image when the endpoint (or inference
component) is created, and CloudFormation waits for InService; an empty weights prefix
makes the container fail its health check and the stack roll back. CloudFormation orders
creation only by references and ``DependsOn`` (and across stacks by exports), so every
``AWS::SageMaker::Model`` (and every inference component with an inline container) must
take its model data and its image from readiness gates:

- ``Custom::GptOssWeightsReady``: the weights are staged and verified;
- ``Custom::GptOssImageReady``: the image is built and pushed.

"Derived from" means the gate is in the dependency closure of the S3 URI (or the image
URI), or of the model resource itself through ``DependsOn``; across stacks through an
output whose value comes from the gate and an ``Fn::ImportValue`` of its export.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..assembly import Assembly, StackTemplate, closure, resource_closure
from ..rule import Finding, Rehearsal, RehearsalRule, Source

WEIGHTS_GATE = "Custom::GptOssWeightsReady"
IMAGE_GATE = "Custom::GptOssImageReady"
ID = "creation-order"


def _containers(stack: StackTemplate) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(logical id, where, container) for each model container and inline IC container."""
    for logical_id, resource in stack.of_type("AWS::SageMaker::Model"):
        props = resource.get("Properties", {})
        containers = [props.get("PrimaryContainer"), *(props.get("Containers") or [])]
        for index, container in enumerate(c for c in containers if isinstance(c, Mapping)):
            yield logical_id, f"container {index}", container
    for logical_id, resource in stack.of_type("AWS::SageMaker::InferenceComponent"):
        spec = resource.get("Properties", {}).get("Specification", {})
        inline = spec.get("Container") if isinstance(spec, Mapping) else None
        if isinstance(inline, Mapping):
            yield logical_id, "inline container", inline


def _model_data(container: Mapping[str, Any]) -> Any:
    source = container.get("ModelDataSource")
    if isinstance(source, Mapping) and isinstance(source.get("S3DataSource"), Mapping):
        return source["S3DataSource"].get("S3Uri")
    return container.get("ModelDataUrl") or container.get("ArtifactUrl")


def _gates(assembly: Assembly, nodes: set[tuple[str, str]], gate: str) -> bool:
    for stack_name, logical_id in nodes:
        stack = assembly.stack(stack_name)
        if stack.resources.get(logical_id, {}).get("Type") == gate:
            return True
    return False


def check(rehearsal: Rehearsal) -> Iterator[Finding]:
    for assembly in rehearsal.assemblies:
        for stack in assembly.stacks:
            for logical_id, where, container in _containers(stack):
                ordered = resource_closure(assembly, stack, logical_id)
                wants = [("image", container.get("Image"), IMAGE_GATE)]
                data = _model_data(container)
                if data is not None:
                    wants.append(("model data", data, WEIGHTS_GATE))
                for what, value, gate in wants:
                    derived = closure(assembly, stack, value) | ordered
                    if not _gates(assembly, derived, gate):
                        yield Finding(
                            ID,
                            assembly.name,
                            stack.name,
                            logical_id,
                            f"{where}: the {what} is not derived from a {gate} gate, so "
                            "CloudFormation may create the model (and the endpoint that "
                            f"loads it) before the {what} exists",
                        )


RULE = RehearsalRule(
    id=ID,
    title="Weights and image are ready before the model, endpoint or inference component",
    sources=(
        Source(
            "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
            "aws-attribute-dependson.html",
            "With the DependsOn attribute you can specify that the creation of a specific "
            "resource follows another. [...] if the properties of resource A use a !Ref to "
            "resource B [...] Resource B is created before resource A.",
        ),
        Source(
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html",
            "ModelDataDownloadTimeoutInSeconds: The timeout value, in seconds, to download and "
            "extract the model that you want to host from Amazon S3 to the individual "
            "inference instance associated with this production variant.",
        ),
    ),
    check=check,
)
