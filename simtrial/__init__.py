"""simtrial: plan trials of repeated MSC infusions.

Bayesian priors from pilot studies, simulated trials with repeated-infusion schedules,
re-dosing on loss, dropouts and adverse events; power, type I error, assurance and schedule
comparison.
"""

from simtrial.design_summary import design_summary
from simtrial.errors import EngineError, PriorError, ScenarioError, SimtrialError
from simtrial.model import response_probability
from simtrial.power import run
from simtrial.results import PointResult, RunResult, VariantResult
from simtrial.scenario import Scenario, ScenarioSet, load_scenario
from simtrial.sensitivity import SweepResult, sweep

__all__ = [
    "EngineError",
    "PointResult",
    "PriorError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "ScenarioSet",
    "SimtrialError",
    "SweepResult",
    "VariantResult",
    "burden",
    "design_summary",
    "load_scenario",
    "power_curve",
    "response_over_time",
    "response_probability",
    "run",
    "stopping",
    "sweep",
]


_PLOTS = ("burden", "power_curve", "response_over_time", "stopping")


def __getattr__(name: str) -> object:
    # plotting (matplotlib) is imported only when a plot function is asked for
    if name in _PLOTS:
        from simtrial import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'simtrial' has no attribute {name!r}")
