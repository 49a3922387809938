"""profile-bypass: when team profiles exist, nothing invokes gpt-oss around them.

Spend through an application inference profile carries the team's tags (cost allocation,
the tag-filtered budget); a direct call to the foundation model carries none. Calling a
model through a profile needs the action on the profile and on the model, and the
``bedrock:InferenceProfileArn`` condition on the model statement lets a principal reach the
model only through a profile. So, in an assembly that creates team profiles, every Allow of
``bedrock:InvokeModel*`` on a gpt-oss foundation-model ARN (or a wildcard covering one)
must carry that condition, unless the stack declares the opt-in
(``Metadata.gptoss.direct_invocation``, set by ``bedrock.allow_direct_invocation``): then
the run notes it instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..policies import allows, as_list, condition_keys, documents
from ..rule import Finding, Rehearsal, RehearsalRule, Source

ID = "profile-bypass"
INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
PROFILE_TYPE = "AWS::Bedrock::ApplicationInferenceProfile"


def _reaches_gpt_oss(resource: Any) -> bool:
    text = json.dumps(resource)
    return (
        resource == "*"
        or "foundation-model/openai.gpt-oss" in text
        or "foundation-model/*" in text
        or "foundation-model/openai.*" in text
    )


def check(rehearsal: Rehearsal) -> Iterator[Finding]:
    for assembly in rehearsal.assemblies:
        if not any(any(True for _ in s.of_type(PROFILE_TYPE)) for s in assembly.stacks):
            continue
        for stack in assembly.stacks:
            for document in documents(stack):
                if not document.identity:
                    continue
                for index, statement in enumerate(document.statements):
                    if not any(allows(statement, action) for action in INVOKE_ACTIONS):
                        continue
                    if not any(_reaches_gpt_oss(r) for r in as_list(statement.get("Resource"))):
                        continue
                    keys = {key.lower() for key in condition_keys(statement)}
                    if "bedrock:inferenceprofilearn" in keys:
                        continue
                    where = statement.get("Sid") or f"statement {index}"
                    if stack.gptoss.get("direct_invocation") is True:
                        rehearsal.notes.append(
                            f"{assembly.name}/{stack.name}: direct invocation of the foundation "
                            f"models is on (bedrock.allow_direct_invocation), {where}"
                        )
                        continue
                    yield Finding(
                        ID,
                        assembly.name,
                        stack.name,
                        document.logical_id,
                        f"{where} allows invoking gpt-oss foundation models without the "
                        "bedrock:InferenceProfileArn condition: calls can bypass the team "
                        "profiles, and their spend carries no team tags",
                    )


RULE = RehearsalRule(
    id=ID,
    title="With team profiles, gpt-oss is invoked only through them",
    sources=(
        Source(
            "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html",
            "To restrict user access such that they can invoke a foundation model only "
            "through an inference profile, add a Condition field [...] (the "
            "bedrock:InferenceProfileArn condition key on the foundation-model statement).",
        ),
    ),
    check=check,
)
