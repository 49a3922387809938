"""Integers written the way vLLM's command line reads them, so a value copied from a vLLM
recipe (`--max-num-batched-tokens 8k`) means the same here."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, Field


def human_int(value: object) -> object:
    """1k = 1000, 1K = 1024, as vLLM's `human_readable_int` (vllm/utils/argparse_utils.py)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kmgtKMGT])", text)
    if not match:
        return text  # pydantic reports it as not an integer
    number, suffix = match.groups()
    if suffix.islower():
        return int(float(number) * 1000 ** ("kmgt".index(suffix) + 1))
    if "." in number:
        raise ValueError(f"decimals are not allowed with binary suffix {suffix}")
    return int(number) * 1024 ** ("KMGT".index(suffix) + 1)


HumanInt = Annotated[int, BeforeValidator(human_int)]
Positive = Annotated[HumanInt, Field(ge=1)]
