"""The SDK's instance table against the AWS Price List copy that cfn-lint (pinned here) ships."""

import json
from importlib import resources

from gptoss_facts.instances import INSTANCE_TYPES


def test_the_instance_table_matches_the_hosting_offers_cfn_lint_ships() -> None:
    # gptoss_facts.instances copied its region lists from cfn-lint 1.58.0; when cfn-lint (the
    # pinned one in .venv-cdk) is upgraded, this says which rows to update.
    data = json.loads(
        resources.files("cfnlint")
        .joinpath("data/schemas/extensions/aws_sagemaker_hosting/instancetype_enum.json")
        .read_text()
    )
    offered: dict[str, set[str]] = {}
    for region, entry in data.items():
        if isinstance(entry, dict):
            for name in entry["enum"]:
                offered.setdefault(name, set()).add(region)
    stale = {
        name: sorted(offered.get(name, set()) ^ row.hosting_regions)
        for name, row in INSTANCE_TYPES.items()
        if offered.get(name, set()) != row.hosting_regions
    }
    assert stale == {}
