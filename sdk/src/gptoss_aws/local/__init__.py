"""Run SageMaker code on a laptop: a stand-in for the SageMaker runtime service that
forwards to a local container (the one part of AWS that cannot run here)."""
