"""Tiny gpt-oss-architecture checkpoints for CPU tests and local runs.

Nothing here is used when serving a real model.
"""
