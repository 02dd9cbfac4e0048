"""Scenario layer: the YAML schema (:mod:`.schema`), parameters (:mod:`.parameters`) and the
documented bounds (:mod:`.limits`).

``from simtrial.scenario import load_scenario, Scenario, ScenarioSet`` is the public entry.
"""

from typing import TYPE_CHECKING

from simtrial._modules import lazy_getattr

if TYPE_CHECKING:
    from simtrial.scenario.load import load_scenario
    from simtrial.scenario.schema import Scenario, ScenarioSet

_LAZY = {
    **dict.fromkeys(("Scenario", "ScenarioSet"), "simtrial.scenario.schema"),
    "load_scenario": "simtrial.scenario.load",
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = ["Scenario", "ScenarioSet", "load_scenario"]
