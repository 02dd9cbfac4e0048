"""simtrial: plan trials of repeated MSC infusions.

Bayesian priors from pilot studies, simulated trials with repeated-infusion schedules,
re-dosing on loss, dropouts and adverse events; power, type I error, assurance and schedule
comparison.
"""

from typing import TYPE_CHECKING

from simtrial._modules import lazy_getattr
from simtrial.errors import EngineError, PriorError, ScenarioError, SimtrialError

if TYPE_CHECKING:  # imported on first use (``simtrial --help`` should not load SciPy)
    from simtrial.engines.results import PointResult, RunResult, VariantResult
    from simtrial.model.response import response_probability
    from simtrial.planning.design_summary import design_summary
    from simtrial.planning.power import run
    from simtrial.planning.sweep import SweepResult, sweep
    from simtrial.report.plots import burden, power_curve, response_over_time, stopping
    from simtrial.report.sweep import sweep_figure, sweep_text
    from simtrial.report.table import summary_text
    from simtrial.scenario.load import load_scenario
    from simtrial.scenario.schema import Scenario, ScenarioSet

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
    "summary_text",
    "sweep",
    "sweep_figure",
    "sweep_text",
]


_LAZY = {
    "design_summary": "simtrial.planning.design_summary",
    "response_probability": "simtrial.model.response",
    "burden": "simtrial.report.plots",
    "power_curve": "simtrial.report.plots",
    "response_over_time": "simtrial.report.plots",
    "stopping": "simtrial.report.plots",
    "run": "simtrial.planning.power",
    "PointResult": "simtrial.engines.results",
    "RunResult": "simtrial.engines.results",
    "VariantResult": "simtrial.engines.results",
    "Scenario": "simtrial.scenario.schema",
    "ScenarioSet": "simtrial.scenario.schema",
    "load_scenario": "simtrial.scenario.load",
    "SweepResult": "simtrial.planning.sweep",
    "summary_text": "simtrial.report.table",
    "sweep_figure": "simtrial.report.sweep",
    "sweep_text": "simtrial.report.sweep",
    "sweep": "simtrial.planning.sweep",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
