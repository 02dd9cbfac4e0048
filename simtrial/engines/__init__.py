"""Engines behind one interface (:class:`~simtrial.engines.base.Engine`).

- ``exact``: closed forms + enumeration of the rejection region (no Monte Carlo error);
- ``vectorized``: NumPy arrays of trials × patients, the default;
- ``des``: SimPy processes in calendar time (accrual, sites, infusion capacity, cell-dose
  supply); the only engine for scenarios with an ``operations`` block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simtrial.engines.base import Engine
from simtrial.errors import EngineError

if TYPE_CHECKING:
    from simtrial.scenario.schema import ScenarioSet

ENGINES = ("exact", "vectorized", "des")


def default_engine(scenarios: ScenarioSet) -> str:
    """``des`` for scenarios with an ``operations`` block, else ``vectorized``."""
    return "des" if scenarios.base.operations is not None else "vectorized"


def get_engine(name: str) -> Engine:
    """The engine called ``name``."""
    if name == "exact":
        from simtrial.engines.exact import ExactEngine

        return ExactEngine()
    if name == "vectorized":
        from simtrial.engines.vectorized import VectorizedEngine

        return VectorizedEngine()
    if name == "des":
        from simtrial.engines.des import DESEngine

        return DESEngine()
    raise EngineError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")


__all__ = ["ENGINES", "Engine", "default_engine", "get_engine"]
