"""account-singletons: Bedrock invocation logging has one owner stack per account and region."""

from __future__ import annotations

import json
from typing import Any

from rehearsal_support import assembly, resource, run, stack

from gptoss_infra.rehearsal.rules.account_singletons import RULE


def logging_resource(retention: int = 365) -> dict[str, Any]:
    call = {"action": "PutModelInvocationLoggingConfiguration", "service": "bedrock"}
    return {
        "Logging": resource(
            "Custom::AWS", {"Create": json.dumps(call), "Update": json.dumps(call)}
        ),
        "Group": resource("AWS::Logs::LogGroup", {"RetentionInDays": retention}),
    }


def env_stack(name: str) -> Any:
    return stack(name, logging_resource(), gptoss={"component": "bedrock", "environment": name})


def account_stack(protected: bool = True, retention: int = 365) -> Any:
    return stack(
        "Gptoss-Account",
        logging_resource(retention),
        gptoss={"component": "account"},
        termination_protection=protected,
    )


def test_every_environment_owning_the_setting_is_flagged() -> None:
    # Finding 5: dev and prod both set it in the same account and region.
    findings = run(
        RULE, assembly("dev", env_stack("Dev-Bedrock")), assembly("prod", env_stack("Prod-Bedrock"))
    )
    assert len(findings) == 4
    assert sum("this environment's stack sets it" in f.message for f in findings) == 2
    assert sum("the last deployed wins" in f.message for f in findings) == 2


def test_one_protected_account_stack_shared_by_environments_passes() -> None:
    assert run(RULE, assembly("dev", account_stack()), assembly("prod", account_stack())) == []


def test_other_regions_are_other_settings() -> None:
    west = stack(
        "Gptoss-Account",
        logging_resource(),
        region="us-west-2",
        gptoss={"component": "account"},
        termination_protection=True,
    )
    assert run(RULE, assembly("dev", west), assembly("prod", account_stack())) == []


def test_an_unprotected_account_stack_is_flagged() -> None:
    findings = run(RULE, assembly("dev", account_stack(protected=False)))
    assert len(findings) == 1
    assert "termination protection" in findings[0].message


def test_two_templates_under_one_name_fight() -> None:
    findings = run(
        RULE, assembly("dev", account_stack()), assembly("prod", account_stack(retention=30))
    )
    assert len(findings) == 2
    assert all("different templates" in f.message for f in findings)
