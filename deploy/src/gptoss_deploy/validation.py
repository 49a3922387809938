"""Checks that need the whole configuration, run before any construct is created.

Each check adds ``Problem``s (field, what is wrong, the fix) to one list, so a configuration
with five mistakes costs one run to fix, not five. The facts come from ``gptoss_facts``: model
sizes and KV cache (``models``), GPUs and local NVMe (``instances``), name rules (``names``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gptoss_aws.errors import InvalidConfigurationError

# Regions where Bedrock offers gpt-oss, each with its source: the price catalog's table.
from gptoss_aws.pricing.regions import BEDROCK_GPT_OSS_REGIONS, BEDROCK_MANTLE_REGIONS
from gptoss_deploy.capacity import check_update_capacity
from gptoss_deploy.config import (
    DeploymentConfig,
    Problem,
)
from gptoss_deploy.endpoint_checks import (
    check_instance,
    check_kms,
    check_memory,
    check_parallelism,
    check_scaling,
    check_sources,
)
from gptoss_facts.names import (
    BUDGET_NAME_MAX,
    PROFILE_NAME,
    PROFILE_NAME_MAX,
    SAGEMAKER_NAME,
    SAGEMAKER_NAME_MAX,
    STACK_NAME,
    STACK_NAME_MAX,
    TABLE_NAME,
)

MAX_BUDGET_NOTIFICATIONS = 5  # AWS Budgets quotas (budgets-limits)

# Regions with a bedrock-mantle endpoint: the SDK's table (gptoss_aws.pricing.regions, with
# the two AWS pages it comes from), which its Mantle backend checks too. Which models each
# region serves on bedrock-mantle is not stated, so allow_unlisted_regions is the way past it.
MANTLE_REGIONS = frozenset(BEDROCK_MANTLE_REGIONS)
# AWS::BedrockMantle::Project Name: "Must be unique within your AWS account", at most 64
# characters matching ^([0-9a-zA-Z][ _-]?)+$ (Bedrock user guide, cloudformation-projects).
MANTLE_PROJECT_NAME = re.compile(r"^([0-9a-zA-Z][ _-]?)+$")
MANTLE_PROJECT_NAME_MAX = 64
TEAM = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


Check = Callable[[DeploymentConfig, list[Problem]], None]


def _check_bedrock_region(config: DeploymentConfig, out: list[Problem]) -> None:
    if config.bedrock is None or config.allow_unlisted_regions:
        return
    if config.region not in BEDROCK_GPT_OSS_REGIONS:
        out.append(
            Problem(
                "region",
                f"Bedrock is not known to offer gpt-oss in {config.region}",
                f"use one of {', '.join(sorted(BEDROCK_GPT_OSS_REGIONS))}, set bedrock: null, "
                "or set allow_unlisted_regions: true after checking `aws bedrock "
                f"list-foundation-models --by-provider openai --region {config.region}`",
            )
        )


def _check_mantle(config: DeploymentConfig, out: list[Problem]) -> None:
    bedrock = config.bedrock
    if bedrock is None or not bedrock.mantle:
        return
    if not bedrock.teams:
        out.append(
            Problem(
                "bedrock.mantle",
                "Mantle projects are made one per team, and bedrock.teams is empty: no caller "
                "could reach bedrock-mantle",
                'add a team (e.g. "teams": {"research": "gpt-oss-120b"}) or set mantle: false',
            )
        )
    if bedrock.guardrail:
        # The guardrail is enforced by the bedrock:GuardrailIdentifier condition on
        # InvokeModel; bedrock-mantle has no such condition key (Service Authorization
        # Reference, "Amazon Bedrock Powered by AWS Mantle"), so Mantle calls would skip it.
        out.append(
            Problem(
                "bedrock.mantle",
                "an enforced guardrail cannot be enforced on bedrock-mantle (IAM has no "
                "guardrail condition for it), so Mantle calls would bypass it",
                "set mantle: false, or guardrail: false if Mantle callers may go unguarded",
            )
        )
    if not config.allow_unlisted_regions and config.region not in MANTLE_REGIONS:
        out.append(
            Problem(
                "bedrock.mantle",
                f"AWS lists no bedrock-mantle endpoint in {config.region}",
                f"use one of {', '.join(sorted(MANTLE_REGIONS))}, set mantle: false, or set "
                "allow_unlisted_regions: true after checking "
                f"https://bedrock-mantle.{config.region}.api.aws/v1/models answers",
            )
        )


def _check_teams(config: DeploymentConfig, out: list[Problem]) -> None:
    if config.bedrock is None:
        return
    for team, model in config.bedrock.teams.items():
        if not TEAM.match(team):
            suggestion = re.sub(r"[^a-z0-9]+", "-", team.lower()).strip("-") or "team"
            out.append(
                Problem(
                    "bedrock.teams",
                    f"{team!r} is not a team name (lower-case letters, digits, hyphens)",
                    f"use e.g. {suggestion!r}",
                )
            )
        elif model not in config.bedrock.models:
            out.append(
                Problem(
                    f"bedrock.teams.{team}",
                    f"{model} is not one of bedrock.models {list(config.bedrock.models)}",
                    f"add {model} to bedrock.models, or give the team one of those",
                )
            )


# (field, name, pattern or None, maximum length, the rule as the message states it)
_NameCheck = tuple[str, str, "re.Pattern[str] | None", int, str]


def _names_to_check(config: DeploymentConfig) -> list[_NameCheck]:
    names = config.names
    checks: list[_NameCheck] = [
        (
            "names.sagemaker_stack",
            names.sagemaker_stack,
            STACK_NAME,
            STACK_NAME_MAX,
            f"CloudFormation stack names: {STACK_NAME_MAX} characters",
        ),
        # TABLE_NAME caps the length itself ({3,255}).
        (
            "names.ledger_table",
            names.ledger_table,
            TABLE_NAME,
            255,
            "DynamoDB table names: 3-255 of a-z A-Z 0-9 _ . -",
        ),
        (
            "names.budget",
            names.budget,
            None,
            BUDGET_NAME_MAX,
            f"AWS Budgets names: {BUDGET_NAME_MAX} characters",
        ),
    ]
    sagemaker_rule = f"SageMaker names: {SAGEMAKER_NAME_MAX} letters, digits and hyphens"
    if config.sagemaker is not None:
        sagemaker_names = [("names.endpoint", names.endpoint)]
        if config.sagemaker.inference_components:
            sagemaker_names.append(("names.inference_component", names.inference_component))
        checks += [
            (field, name, SAGEMAKER_NAME, SAGEMAKER_NAME_MAX, sagemaker_rule)
            for field, name in sagemaker_names
        ]
    if config.bedrock is not None:
        profile_rule = f"Bedrock inference profile names: {PROFILE_NAME_MAX} characters"
        checks += [
            # A team name that is not one is _check_teams' problem; its profile is not checked.
            (
                "bedrock.teams",
                names.inference_profile(team, model),
                PROFILE_NAME,
                PROFILE_NAME_MAX,
                profile_rule,
            )
            for team, model in config.bedrock.teams.items()
            if TEAM.match(team)
        ]
        if config.bedrock.mantle:
            checks += [
                (
                    "bedrock.mantle",
                    names.mantle_project(team),
                    MANTLE_PROJECT_NAME,
                    MANTLE_PROJECT_NAME_MAX,
                    f"Bedrock Mantle project names: {MANTLE_PROJECT_NAME_MAX} characters",
                )
                for team in config.bedrock.teams
                if TEAM.match(team)
            ]
    return checks


def _check_names(config: DeploymentConfig, out: list[Problem]) -> None:
    for field, name, pattern, max_length, rule in _names_to_check(config):
        if (pattern is None or pattern.match(name)) and len(name) <= max_length:
            continue
        over = len(name) - max_length
        fix = (
            f"shorten project and/or environment by {over} character(s)"
            if over > 0
            else "use only the characters the rule allows"
        )
        out.append(Problem(field, f"{name!r} is not a valid name ({rule})", fix))


def _check_profile_coverage(config: DeploymentConfig, out: list[Problem]) -> None:
    # With teams and no direct access, a model no team's profile routes to cannot be invoked.
    bedrock = config.bedrock
    if bedrock is None or not bedrock.teams or bedrock.allow_direct_invocation:
        return
    if any(p.field.startswith("bedrock.teams") for p in out):
        return  # fix the teams first; coverage follows from them
    for model in bedrock.models:
        if model not in bedrock.teams.values():
            out.append(
                Problem(
                    "bedrock.teams",
                    f"{model} is in bedrock.models but no team's profile uses it, and direct "
                    "invocation is off: nobody could invoke it",
                    f'add a team for it (e.g. "my-team": "{model}"), remove it from '
                    "bedrock.models, or set bedrock.allow_direct_invocation: true",
                )
            )


def _check_cost(config: DeploymentConfig, out: list[Problem]) -> None:
    cost = config.cost
    for email in cost.alert_emails:
        if not EMAIL.match(email):
            out.append(Problem("cost.alert_emails", f"{email!r} is not an email address", "fix it"))
    # A budget has at most 5 notifications (AWS Budgets quotas); the forecast alert is one.
    if len(cost.alert_thresholds_percent) + 1 > MAX_BUDGET_NOTIFICATIONS:
        out.append(
            Problem(
                "cost.alert_thresholds_percent",
                f"{len(cost.alert_thresholds_percent)} thresholds plus the forecast alert exceed "
                f"the {MAX_BUDGET_NOTIFICATIONS} notifications a budget can have",
                f"keep at most {MAX_BUDGET_NOTIFICATIONS - 1} thresholds",
            )
        )
    for threshold in cost.alert_thresholds_percent:
        if not 1 <= threshold <= 1000:
            out.append(
                Problem(
                    "cost.alert_thresholds_percent",
                    f"{threshold} is outside 1-1000 percent",
                    "use percentages of the budget such as 50, 80, 100",
                )
            )


CHECKS: tuple[Check, ...] = (
    check_instance,
    check_parallelism,
    check_memory,
    check_kms,
    check_scaling,
    check_sources,
    _check_bedrock_region,
    _check_mantle,
    _check_teams,
    _check_names,
    _check_profile_coverage,
    _check_cost,
    check_update_capacity,
)


def find_problems(config: DeploymentConfig) -> list[Problem]:
    """Every problem in ``config``; empty when it can be synthesized."""
    out: list[Problem] = []
    for check in CHECKS:
        check(config, out)
    return out


def validate(config: DeploymentConfig, source: str | None = None) -> DeploymentConfig:
    """Return ``config`` if it is valid; raise InvalidConfigurationError listing all problems."""
    problems = find_problems(config)
    if problems:
        raise InvalidConfigurationError(source or f"environment {config.environment!r}", problems)
    return config
