"""The deploy order `make synth` prints: stacks in dependency order, gates in the right stack,
the model after both gates (the CDK CLI deploys a stack after the stacks it depends on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Synthesized

from gptoss_deploy.loading import from_preset
from gptoss_infra.deploy_order import (
    IMAGE_GATE,
    WEIGHTS_GATE,
    copy_minutes,
    deploy_order,
    deploy_order_text,
)
from gptoss_infra.stacks import build_app


def test_weights_deploy_before_the_endpoint_with_a_gate_each(
    synthesized: dict[str, Synthesized],
) -> None:
    synth = synthesized["gpt-oss-120b-p5-4xlarge"]
    steps = {step.stack: index for index, step in enumerate(deploy_order(synth.outdir))}
    assert steps[synth.names.weights_stack] < steps[synth.names.sagemaker_stack]
    by_stack = {step.stack: step for step in deploy_order(synth.outdir)}
    assert [g.split(": ")[0] for g in by_stack[synth.names.weights_stack].gates] == [
        f"gate {WEIGHTS_GATE}"
    ]
    assert [g.split(": ")[0] for g in by_stack[synth.names.sagemaker_stack].gates] == [
        f"gate {IMAGE_GATE}"
    ]
    text = deploy_order_text(synth.outdir)
    # The image gate is printed before the model it holds back.
    assert text.index(IMAGE_GATE) < text.index("model, endpoint config, endpoint")


def test_a_given_image_has_no_image_gate_and_self_uploaded_weights_are_awaited(
    synthesized: dict[str, Synthesized],
) -> None:
    synth = synthesized["byo-image"]
    text = deploy_order_text(synth.outdir)
    assert IMAGE_GATE not in text
    assert "wait for your upload of openai/gpt-oss-20b" in text


def test_the_order_follows_the_manifest_dependencies(tmp_path: Path) -> None:
    def stack(deps: list[str]) -> dict[str, object]:
        return {
            "type": "aws:cloudformation:stack",
            "dependencies": deps,
            "properties": {"templateFile": "t.json"},
        }

    (tmp_path / "t.json").write_text(json.dumps({"Resources": {}}))
    manifest = {"artifacts": {"B": stack(["A"]), "A": stack([]), "C": stack(["B"])}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert [s.stack for s in deploy_order(tmp_path)] == ["A", "B", "C"]


def test_copy_time_grows_with_the_checkpoint() -> None:
    assert copy_minutes(60.8) == (13, 26)
    assert copy_minutes(12.8)[1] < copy_minutes(60.8)[0]


def test_make_synth_summary_prints_the_deploy_order(
    synthesized: dict[str, Synthesized], capsys: pytest.CaptureFixture[str]
) -> None:
    from gptoss_infra.summary import main

    synth = synthesized["gpt-oss-120b-p5-4xlarge"]
    main([str(synth.outdir)])
    out = capsys.readouterr().out
    assert "Deploy order (make deploy" in out
    assert out.index(synth.names.weights_stack, out.index("Deploy order")) < out.index(
        synth.names.sagemaker_stack, out.index("Deploy order")
    )


def test_a_safeguard_endpoint_copies_the_safeguard_checkpoint_with_its_size(
    tmp_path: Path,
) -> None:
    # gpt-oss-safeguard-20b shares gpt-oss-20b's architecture and so its 12.8 GiB size.
    config = from_preset(
        "gpt-oss-20b-g6e-xlarge", {"sagemaker": {"model": "gpt-oss-safeguard-20b"}}
    )
    build_app(config, outdir=str(tmp_path), rule_packs=False).synth()
    text = deploy_order_text(tmp_path)
    assert "copy openai/gpt-oss-safeguard-20b (12.8 GiB) from Hugging Face" in text
