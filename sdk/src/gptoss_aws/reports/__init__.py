"""Cost reports over the ledger: tables (no pandas needed), DataFrames, plots, HTML."""

from gptoss_aws.reports.summary import (
    CostReport,
    ReportRow,
    call_costs,
    summarize,
    timeline_allocator,
)

__all__ = ["CostReport", "ReportRow", "call_costs", "summarize", "timeline_allocator"]
