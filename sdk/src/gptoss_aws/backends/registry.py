"""The backends, as they describe themselves: name, cost basis, telemetry provider.

Every concrete ``BackendBase`` subclass declares ``name``, ``cost_basis`` and
``telemetry_provider`` and is registered when its class is defined. Tracking, budgets,
telemetry, reports and the CLI look a backend up here by the name a call record carries,
so a new backend is its module in ``gptoss_aws/backends/`` (found by ``_discover``) plus its
constructor on the client. A name nobody registered is a ``ConfigurationError`` naming the
known ones, never silently costed as another backend.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from enum import StrEnum
from typing import TYPE_CHECKING

from gptoss_aws.errors import ConfigurationError

if TYPE_CHECKING:
    from gptoss_aws.backends.base import BackendBase


class BackendCostBasis(StrEnum):
    """How a backend's calls are paid for, which decides how the tracker prices them."""

    # AWS bills each token, at the model's price in the price book for the region and the
    # service tier the call was served at (Bedrock).
    PER_TOKEN = "per_token"  # noqa: S105 (a name, not a secret)
    # AWS bills the instances by the hour; a call's share is allocated later over a window
    # (a SageMaker endpoint).
    INSTANCE_HOURS = "instance_hours"
    # Nobody AWS bills: the caller states a per-token price, or the call is unpriced
    # (an OpenAI-compatible server).
    CALLER_PRICED = "caller_priced"


_REGISTRY: dict[str, type[BackendBase]] = {}
_LOCK = threading.Lock()
_discovered = False
# Modules of this package that hold no backend class.
_NOT_BACKENDS = frozenset({"base", "registry"})


def register(cls: type[BackendBase]) -> None:
    """Called by ``BackendBase.__init_subclass__`` for each class declaring a ``name``."""
    for attribute in ("cost_basis", "telemetry_provider", "title"):
        if not hasattr(cls, attribute):
            raise TypeError(f"backend {cls.__qualname__} must declare {attribute}")
    if not isinstance(cls.cost_basis, BackendCostBasis):
        raise TypeError(
            f"backend {cls.__qualname__}: cost_basis must be a BackendCostBasis, "
            f"got {cls.cost_basis!r}"
        )
    with _LOCK:
        known = _REGISTRY.get(cls.name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise TypeError(
                f"backend name {cls.name!r} is taken by {known.__module__}.{known.__qualname__}"
            )
        _REGISTRY[cls.name] = cls


def _discover() -> None:
    """Import every backend module of this package once, so each registers itself."""
    global _discovered
    if _discovered:
        return
    import gptoss_aws.backends as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_") and module.name not in _NOT_BACKENDS:
            importlib.import_module(f"{package.__name__}.{module.name}")
    _discovered = True


def backend_names() -> tuple[str, ...]:
    """The registered backend names, sorted."""
    _discover()
    return tuple(sorted(_REGISTRY))


def backend_classes() -> tuple[type[BackendBase], ...]:
    """The registered backend classes, in name order."""
    _discover()
    return tuple(_REGISTRY[name] for name in sorted(_REGISTRY))


def backend_class(name: str) -> type[BackendBase]:
    """The class registered under ``name``, or a ConfigurationError listing the known names."""
    _discover()
    cls = _REGISTRY.get(name)
    if cls is None:
        raise ConfigurationError(unknown_backend_message(name))
    return cls


def unknown_backend_message(name: object) -> str:
    known = ", ".join(backend_names())
    return f"unknown backend {name!r}: the known backends are {known}"


def check_backend_name(name: str) -> str:
    """``name`` if a backend is registered under it; for pydantic validators."""
    backend_class(name)
    return name


def cost_basis_of(name: str) -> BackendCostBasis:
    return backend_class(name).cost_basis


def telemetry_provider_of(name: str) -> str:
    return backend_class(name).telemetry_provider


def title_of(name: str) -> str:
    return backend_class(name).title


def billed_by_instance_hours(name: str) -> bool:
    """Whether calls of this backend share an endpoint's instance-hours (SageMaker)."""
    return cost_basis_of(name) is BackendCostBasis.INSTANCE_HOURS
