"""The SDK must install and import without CDK, vLLM or torch."""

import subprocess
import sys


def test_importing_the_sdk_pulls_in_no_heavy_component() -> None:
    code = (
        "import sys, gptoss_aws\n"
        "names = ('vllm', 'torch', 'aws_cdk', 'gptoss_container')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_sdk_environment_has_no_engine_or_cdk_installed() -> None:
    # The SDK's own environment is built from its lock file alone; if CDK or vLLM ever
    # creep into it, the SDK has stopped installing on its own.
    import importlib.util

    for module in ("vllm", "torch", "aws_cdk"):
        assert importlib.util.find_spec(module) is None, f"{module} is in the SDK environment"
