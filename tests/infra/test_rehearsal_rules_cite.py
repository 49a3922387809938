"""Every rehearsal rule has a unique id and cites an AWS page with the sentence it encodes."""

from __future__ import annotations


def test_every_rule_cites_a_document() -> None:
    from gptoss_infra.rehearsal import ALL_RULES

    assert len({rule.id for rule in ALL_RULES}) == len(ALL_RULES)
    for rule in ALL_RULES:
        assert rule.sources, rule.id
        for source in rule.sources:
            assert source.url.startswith("https://"), rule.id
            assert len(source.quote) > 40, rule.id
