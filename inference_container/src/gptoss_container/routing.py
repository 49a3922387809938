"""Route /invocations to other OpenAI routes, as the AWS vLLM container does.

SageMaker only exposes POST /invocations. Callers pick another route with
``CustomAttributes="route=/v1/responses"`` on InvokeEndpoint, which SageMaker passes to the
container as the ``X-Amzn-SageMaker-Custom-Attributes`` header (SageMaker API reference,
InvokeEndpoint: CustomAttributes, "an opaque value forwarded verbatim").
"""

from __future__ import annotations

from dataclasses import dataclass

CUSTOM_ATTRIBUTES_HEADER = b"x-amzn-sagemaker-custom-attributes"

# POST routes of the vLLM 0.32 OpenAI server that make sense behind /invocations.
ROUTABLE_PATHS: frozenset[str] = frozenset(
    {
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/responses",
        "/tokenize",
        "/detokenize",
    }
)


@dataclass(frozen=True)
class RouteChoice:
    path: str | None  # None: no route attribute, keep /invocations
    error: str | None = None


def parse_custom_attributes(value: str) -> dict[str, str]:
    """Parse ``k=v`` pairs separated by ``,`` or ``;``; pairs without ``=`` are ignored."""
    pairs: dict[str, str] = {}
    for part in value.replace(";", ",").split(","):
        key, sep, val = part.partition("=")
        if sep and key.strip():
            pairs[key.strip().lower()] = val.strip()
    return pairs


def choose_route(header_value: str | None) -> RouteChoice:
    if not header_value:
        return RouteChoice(path=None)
    route = parse_custom_attributes(header_value).get("route")
    if route is None:
        return RouteChoice(path=None)
    if route not in ROUTABLE_PATHS:
        allowed = ", ".join(sorted(ROUTABLE_PATHS))
        return RouteChoice(
            path=None,
            error=(
                f"CustomAttributes route={route!r} is not a route /invocations can reach; "
                f"use one of: {allowed}"
            ),
        )
    return RouteChoice(path=route)
