"""simtrial: plan trials of repeated MSC infusions.

Bayesian priors from pilot studies, simulated trials with repeated-infusion schedules,
re-dosing on loss, dropouts and adverse events; power, type I error, assurance and schedule
comparison.
"""

from simtrial.errors import EngineError, PriorError, ScenarioError, SimtrialError
from simtrial.model import response_probability
from simtrial.power import run
from simtrial.results import PointResult, RunResult, VariantResult
from simtrial.scenario import Scenario, ScenarioSet, load_scenario

__all__ = [
    "EngineError",
    "PointResult",
    "PriorError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "ScenarioSet",
    "SimtrialError",
    "VariantResult",
    "load_scenario",
    "response_probability",
    "run",
]
