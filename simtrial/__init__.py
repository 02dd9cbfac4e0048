"""simtrial: plan trials of repeated MSC infusions.

Bayesian priors from pilot studies, simulated trials with repeated-infusion schedules,
re-dosing on loss, dropouts and adverse events; power, type I error, assurance and schedule
comparison.
"""

from typing import TYPE_CHECKING

from simtrial._modules import lazy_getattr
from simtrial.errors import EngineError, PriorError, ScenarioError, SimtrialError

if TYPE_CHECKING:  # imported on first use (``simtrial --help`` should not load SciPy)
    from simtrial.design_summary import design_summary
    from simtrial.model import response_probability
    from simtrial.plots import burden, power_curve, response_over_time, stopping
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


_LAZY = {
    "design_summary": "simtrial.design_summary",
    "response_probability": "simtrial.model",
    "burden": "simtrial.plots",
    "power_curve": "simtrial.plots",
    "response_over_time": "simtrial.plots",
    "stopping": "simtrial.plots",
    "run": "simtrial.power",
    "PointResult": "simtrial.results",
    "RunResult": "simtrial.results",
    "VariantResult": "simtrial.results",
    "Scenario": "simtrial.scenario",
    "ScenarioSet": "simtrial.scenario",
    "load_scenario": "simtrial.scenario",
    "SweepResult": "simtrial.sensitivity",
    "sweep": "simtrial.sensitivity",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
