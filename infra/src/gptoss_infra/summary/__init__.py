"""Read a synthesized cloud assembly and say what it deploys, how safe it is, and its cost
(``python -m gptoss_infra.summary cdk.out``), and regenerate the tables of
docs/infrastructure.md (``--update-docs docs/infrastructure.md``).

One module per job: ``assembly`` reads cdk.out, ``cost`` prices it, ``text`` renders the
summary, ``docs`` builds the generated Markdown blocks, ``cli`` is the command line.
"""

from .assembly import (
    Acknowledgement,
    AssemblySummary,
    Capacity,
    Finding,
    StackSummary,
    read_assembly,
)
from .cli import main
from .cost import HOURS_PER_MONTH, CostLine, Estimate, TokenLine, bundled_price_book, estimate
from .docs import (
    acknowledgements_table,
    configuration_reference,
    generated_sections,
    presets_table,
    read_sections,
    replace_sections,
    synthesize_presets,
)
from .text import rehearsal_text, render

__all__ = [
    "HOURS_PER_MONTH",
    "Acknowledgement",
    "AssemblySummary",
    "Capacity",
    "CostLine",
    "Estimate",
    "Finding",
    "StackSummary",
    "TokenLine",
    "acknowledgements_table",
    "bundled_price_book",
    "configuration_reference",
    "estimate",
    "generated_sections",
    "main",
    "presets_table",
    "read_assembly",
    "read_sections",
    "rehearsal_text",
    "render",
    "replace_sections",
    "synthesize_presets",
]
