"""Cost controls: budgets with encrypted alerts, the SDK's ledger table, a token/cost dashboard."""

from .budgets import CostControls
from .dashboard import CostDashboard
from .ledger_table import LedgerTable
from .tags import apply_cost_allocation_tags

__all__ = ["CostControls", "CostDashboard", "LedgerTable", "apply_cost_allocation_tags"]
