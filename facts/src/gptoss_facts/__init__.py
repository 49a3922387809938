"""Facts shared by gptoss-aws's SDK, deployment code, inference container and CDK app.

Standard library only: the inference image installs this package beside vLLM. Every value
carries its primary source next to it (docs/sources.md gathers the ones used most).
"""

__version__ = "0.1.0"
