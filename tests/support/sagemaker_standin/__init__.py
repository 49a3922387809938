"""Run SageMaker code on a laptop: a stand-in for the SageMaker runtime service that
forwards to a local container (the one part of AWS that cannot run here).

Test support, not part of any installed distribution: the end-to-end, client and notebook
tests and ``make local`` (tools/local_demo.py) take it from ``tests/support``.
"""

from sagemaker_standin.runtime import SageMakerRuntimeStandIn

__all__ = ["SageMakerRuntimeStandIn"]
