"""An optional Bedrock guardrail with the content filters, pinned to a numeric version.

``BedrockAccess`` enforces a guardrail with the IAM condition key ``bedrock:GuardrailIdentifier``
(Bedrock user guide, "Enforce the use of specific guardrails in model inference requests",
guardrails-permissions-id): an Allow with ``StringEquals`` and an explicit Deny with
``StringNotEquals`` on the value ``<guardrail ARN>:<numeric version>``, for InvokeModel and
InvokeModelWithResponseStream (which also authorise Converse and ConverseStream). A caller
must then send ``guardrailIdentifier`` and ``guardrailVersion`` with every request; a request
without them has no ``bedrock:GuardrailIdentifier`` in its context, and ``StringNotEquals``
on a missing key matches, so the Deny applies.

A guardrail version is an immutable snapshot (CreateGuardrailVersion): changing the filters
here changes the DRAFT only. Change ``version_description`` to publish a new numeric version
(CloudFormation replaces the ``AWS::Bedrock::GuardrailVersion``) and move the IAM condition
to it in the same deployment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Fn, Stack
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_kms as kms
from constructs import Construct

from .._common import PropErrors, is_literal

# CreateGuardrail API: name 1-50 characters of [0-9a-zA-Z-_]; filter strengths
# NONE | LOW | MEDIUM | HIGH (GuardrailFilterStrength); the PROMPT_ATTACK filter applies to
# inputs only, so its output strength must be NONE (Bedrock user guide, "Content filters").
_NAME = re.compile(r"^[0-9a-zA-Z_-]{1,50}$")
_VERSION = re.compile(r"^[1-9][0-9]{0,7}$")
STRENGTHS = ("NONE", "LOW", "MEDIUM", "HIGH")
CONTENT_FILTERS = ("SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT")
BLOCKED_INPUT_MESSAGE = "Sorry, this request was blocked by the gpt-oss guardrail."
BLOCKED_OUTPUT_MESSAGE = "Sorry, the response was blocked by the gpt-oss guardrail."


@dataclass(frozen=True)
class GuardrailRef:
    """A guardrail and the numeric version the IAM condition requires.

    :param arn: the guardrail ARN (``arn:aws:bedrock:REGION:ACCOUNT:guardrail/ID``).
    :param version: a numeric version such as ``"1"``; DRAFT cannot be enforced this way
        (the condition value names one immutable version).
    """

    arn: str
    version: str

    @property
    def condition_value(self) -> str:
        """The ``bedrock:GuardrailIdentifier`` value: ``<ARN>:<version>``."""
        if is_literal(self.arn) and is_literal(self.version):
            return f"{self.arn}:{self.version}"
        return Fn.join(":", [self.arn, self.version])

    def validate(self, errors: PropErrors, field: str = "guardrail") -> None:
        if is_literal(self.arn) and not self.arn.startswith("arn:"):
            errors.add(f"{field}.arn {self.arn!r} must be a guardrail ARN")
        elif is_literal(self.arn) and ":guardrail/" not in self.arn:
            errors.add(f"{field}.arn {self.arn!r} is not a guardrail ARN (…:guardrail/ID)")
        if is_literal(self.version) and not _VERSION.match(self.version):
            errors.add(
                f"{field}.version {self.version!r} must be a numeric version (1-99999999); "
                "DRAFT changes under the condition and cannot be enforced"
            )


class GptOssGuardrail(Construct):
    """A guardrail with Bedrock's content filters, and a numeric version to enforce.

    :param guardrail_name: the guardrail's name.
        Default: ``"<stack name>-gptoss"`` cut to 50 characters (CreateGuardrail's limit).
    :param filter_strength: input and output strength of the SEXUAL, VIOLENCE, HATE,
        INSULTS and MISCONDUCT filters. Default: ``"MEDIUM"`` (a middle setting; HIGH also
        blocks more benign text, Bedrock user guide "Content filters").
    :param prompt_attack_strength: input strength of the PROMPT_ATTACK filter.
        Default: ``"HIGH"`` (jailbreak and prompt-injection attempts; outputs are not
        filtered for prompt attacks).
    :param blocked_input_message: what the caller gets when a prompt is blocked.
        Default: :data:`BLOCKED_INPUT_MESSAGE`.
    :param blocked_output_message: what the caller gets when a response is blocked.
        Default: :data:`BLOCKED_OUTPUT_MESSAGE`.
    :param encryption_key: customer managed key for the guardrail.
        Default: none (Bedrock encrypts with an AWS owned key).
    :param version_description: description of the published version; change it to
        publish a new version. Default: ``"v1"``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        guardrail_name: str | None = None,
        filter_strength: str = "MEDIUM",
        prompt_attack_strength: str = "HIGH",
        blocked_input_message: str = BLOCKED_INPUT_MESSAGE,
        blocked_output_message: str = BLOCKED_OUTPUT_MESSAGE,
        encryption_key: kms.IKey | None = None,
        version_description: str = "v1",
    ) -> None:
        super().__init__(scope, construct_id)
        name = guardrail_name or f"{Stack.of(self).stack_name}-gptoss"[-50:].lstrip("-_")
        errors = PropErrors("GptOssGuardrail props")
        if is_literal(name):
            errors.check(
                bool(_NAME.match(name)),
                f"guardrail_name {name!r} must be 1-50 letters, digits, '-' or '_'",
            )
        for field, value in (
            ("filter_strength", filter_strength),
            ("prompt_attack_strength", prompt_attack_strength),
        ):
            errors.check(value in STRENGTHS, f"{field} {value!r} must be one of {STRENGTHS}")
        for field, text in (
            ("blocked_input_message", blocked_input_message),
            ("blocked_output_message", blocked_output_message),
        ):
            errors.check(1 <= len(text) <= 500, f"{field} must be 1-500 characters")
        errors.raise_if_any()

        filters = [
            bedrock.CfnGuardrail.ContentFilterConfigProperty(
                type=kind, input_strength=filter_strength, output_strength=filter_strength
            )
            for kind in CONTENT_FILTERS
        ]
        filters.append(
            bedrock.CfnGuardrail.ContentFilterConfigProperty(
                type="PROMPT_ATTACK", input_strength=prompt_attack_strength, output_strength="NONE"
            )
        )
        self.resource = bedrock.CfnGuardrail(
            self,
            "Resource",
            name=name,
            description="Content filters for gpt-oss model invocations",
            blocked_input_messaging=blocked_input_message,
            blocked_outputs_messaging=blocked_output_message,
            content_policy_config=bedrock.CfnGuardrail.ContentPolicyConfigProperty(
                filters_config=filters
            ),
            kms_key_arn=encryption_key.key_arn if encryption_key else None,
        )
        self.version_resource = bedrock.CfnGuardrailVersion(
            self,
            "Version",
            guardrail_identifier=self.resource.attr_guardrail_id,
            description=version_description,
        )
        self.guardrail_arn: str = self.resource.attr_guardrail_arn
        self.guardrail_id: str = self.resource.attr_guardrail_id
        self.guardrail_version: str = self.version_resource.attr_version

    def as_ref(self) -> GuardrailRef:
        """The guardrail ARN with the published numeric version."""
        return GuardrailRef(arn=self.guardrail_arn, version=self.guardrail_version)
