"""Every preset and variant synthesizes, passes every rule pack and cfn-lint, and is tagged."""

import pytest
from conftest import ALL_CONFIGS, Synthesized
from harness import cfn_lint, nag_findings

from gptoss_deploy.presets import PRESETS

# Resource types CloudFormation cannot tag (no Tags property), and CDK's metadata.
UNTAGGABLE = {
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Policy",
    "AWS::KMS::Alias",
    "AWS::Logs::LogGroup",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::Bedrock::GuardrailVersion",
    "AWS::Budgets::Budget",
    "AWS::CDK::Metadata",
}

each_config = pytest.mark.parametrize("each", ALL_CONFIGS, indirect=True)


@each_config
def test_synthesizes_with_every_rule_pack(each: Synthesized) -> None:
    assert each.error is None, f"{each.name}: {each.error}"


@each_config
def test_has_no_unacknowledged_security_findings(each: Synthesized) -> None:
    findings = nag_findings(each.app)
    assert findings == [], "\n".join(str(f) for f in findings)


@each_config
def test_every_template_is_cfn_lint_clean(each: Synthesized) -> None:
    for stack in each.stack_names:
        problems = cfn_lint(each.template_path(stack), regions=[each.config.region])
        assert problems == [], f"{stack}:\n" + "\n".join(problems)


@each_config
def test_stacks_follow_the_configuration(each: Synthesized) -> None:
    names = each.names
    expected = {names.cost_stack}
    if each.config.bedrock is not None:
        expected.add(names.bedrock_stack)
    if each.config.bedrock is not None and each.config.bedrock.invocation_logging:
        expected.add(names.account_stack)
    if each.config.sagemaker is not None:
        expected |= {names.weights_stack, names.sagemaker_stack}
    assert set(each.stack_names) == expected


@each_config
def test_every_taggable_resource_carries_the_cost_tags(each: Synthesized) -> None:
    for stack in each.stack_names:
        shared = each.template(stack)["Metadata"]["gptoss"].get("component") == "account"
        # The account stack is the same for every environment: project and component only.
        wanted = (
            {"project": each.config.project, "component": "account"}
            if shared
            else each.config.cost_tags
        )
        for logical_id, resource in each.template(stack)["Resources"].items():
            if resource["Type"] in UNTAGGABLE or resource["Type"].startswith("Custom::"):
                continue
            tags = resource.get("Properties", {}).get("Tags")
            assert tags is not None, f"{stack}/{logical_id} ({resource['Type']}) has no tags"
            if isinstance(tags, dict):  # a few types take a key -> value map
                found = dict(tags)
            else:
                found = {tag["Key"]: tag["Value"] for tag in tags}
            assert wanted.items() <= found.items(), f"{stack}/{logical_id}: {found}"
            assert found.get("component") in {"sagemaker", "bedrock", "cost", "account"}


@each_config
def test_templates_are_for_the_configured_region(each: Synthesized) -> None:
    for stack in each.stack_names:
        metadata = each.template(stack)["Metadata"]
        assert metadata["cfn-lint"]["config"]["regions"] == [each.config.region]
        if metadata["gptoss"].get("component") == "account":
            assert "preset" not in metadata["gptoss"]  # one template for every environment
        else:
            assert metadata["gptoss"]["preset"] == each.config.preset


@each_config
def test_outputs_have_stable_export_names(each: Synthesized) -> None:
    prefix = f"{each.names.prefix}:"
    for stack in each.stack_names:
        for key, output in each.template(stack).get("Outputs", {}).items():
            assert output["Export"]["Name"].startswith(prefix), f"{stack}.{key}"


def test_all_presets_are_covered() -> None:
    assert set(PRESETS) <= set(ALL_CONFIGS)
