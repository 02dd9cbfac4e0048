"""The up-front estimate of a run's peak memory and work, and the refusal of a run over the
limits (:func:`check_run`, called by ``simtrial run`` before simulating; ``--force`` overrides).

The estimate's model and its constants are documented with the scenario bounds in
:mod:`simtrial.scenario.limits`. It counts what the engines will simulate: every purpose of
:func:`simtrial.engines.decide.purposes`, the sample-size search, sweep cells and a simulated
type I error curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simtrial.engines.base import has_uncertainty, target_purposes
from simtrial.engines.decide import purposes as purposes_of
from simtrial.errors import SimtrialError
from simtrial.planning import curves
from simtrial.scenario import limits
from simtrial.scenario.schema import Scenario, ScenarioSet

__all__ = ["MAX_TRACED", "RunEstimate", "check_run", "estimate_run", "search_evaluations"]


@dataclass(frozen=True)
class RunEstimate:
    """Estimated peak memory (bytes) and work (patient journeys) of a run."""

    memory_bytes: float
    work: float

    def problems(self) -> list[str]:
        out = []
        if self.memory_bytes > limits.MAX_MEMORY_BYTES:
            out.append(
                f"about {self.memory_bytes / 1024**3:.1f} GiB of memory "
                f"(limit {limits.MAX_MEMORY_BYTES / 1024**3:.0f} GiB)"
            )
        if self.work > limits.MAX_WORK:
            out.append(f"about {self.work:.2g} patient journeys (limit {limits.MAX_WORK:.0e})")
        return out


def search_evaluations(scenario: Scenario, engine: str) -> int:
    """Points a sample-size search (:func:`simtrial.planning.power.search_sample_size`)
    evaluates, at most: ``max_total``, then a bisection over the K = max_total // step candidates
    (⌈log2 K⌉ halvings), then the re-estimate at the answer (simulated engines) or the scan
    of the ``stable_steps`` sizes around it (exact; about that many more). 0 without a search.
    """
    spec = scenario.evaluate.sample_size
    if spec is None:
        return 0
    step = sum(a.allocation for a in scenario.arms.values())
    bisection = max(1, math.ceil(math.log2(max(2, spec.max_total // step)))) + 1
    return bisection + (spec.stable_steps if engine == "exact" else 1)


def _point_sizes(scenario: Scenario, engine: str) -> list[tuple[int, int, bool]]:
    """``(n_total, evaluations, search)`` of every point a run evaluates, sample-size search
    included (``search``: the point simulates only the search's target)."""
    sizes = [(n, 1, False) for n in scenario.evaluate.n_total]
    if scenario.evaluate.sweep is not None:  # every cell of a sensitivity sweep, at its sizes
        cells = math.prod(
            len(v) if isinstance(v, list) else 1 for v in scenario.evaluate.sweep.values()
        )
        sweep_sizes = scenario.evaluate.sweep_n_total or scenario.evaluate.n_total
        sizes += [(n, cells, False) for n in sweep_sizes]
    spec = scenario.evaluate.sample_size
    if spec is not None:  # every point of the search counted at its largest n_total
        step = sum(a.allocation for a in scenario.arms.values())
        hi = max(step, (spec.max_total // step) * step)
        sizes.append((hi, search_evaluations(scenario, engine), True))
    return sizes


def estimate_run(scenarios: ScenarioSet, engine: str, simulations: int) -> RunEstimate:
    """Peak memory and work of ``simtrial run`` (see the module docstring for the model)."""
    memory = 0.0
    work = 0.0
    for scenario in scenarios.variants.values():
        every = len(purposes_of(scenario))  # power, type I, assurance, SAE rates, nulls
        spec = scenario.evaluate.sample_size
        searched = len(target_purposes(scenario, spec.target)) if spec is not None else 0
        for n_total, evaluations, search in _point_sizes(scenario, engine):
            purposes = searched if search else every
            arms = sorted(scenario.n_per_arm(n_total).values())
            # every engine decides through the test's table over (x_t, x_c) (not log-rank)
            cells = (arms[-1] + 1) * (arms[-2] + 1 if len(arms) > 1 else 1)
            table = (
                0 if scenario.analysis.test == "logrank" else limits.TABLE_BYTES_PER_CELL * cells
            )
            if engine == "exact":
                draws = simulations if has_uncertainty(scenario) else 0
                memory = max(memory, table + 4 * 8 * draws * (arms[-1] + 1))
                work += evaluations * cells * (1 + draws) / 100
            elif engine == "des":
                memory = max(memory, table + 4096.0 * n_total)
                work += evaluations * purposes * simulations * n_total * limits.DES_COST
            else:
                trials = min(simulations, 1000)
                memory = max(memory, table + limits.BYTES_PER_PATIENT * trials * n_total)
                work += evaluations * purposes * simulations * n_total
        work += _curve_work(scenario, simulations)
    return RunEstimate(memory_bytes=memory, work=work)


def _curve_work(scenario: Scenario, simulations: int) -> float:
    """The type I error curve (:mod:`simtrial.planning.curves`): simulated when interims can
    stop for efficacy (two purposes per control rate and ``n_total``), else exact (small)."""
    if not curves.wants_curve(scenario) or curves.exact_applies(scenario):
        return 0.0
    spec = scenario.evaluate.type1_curve
    k = spec.points if spec is not None else curves.DEFAULT_POINTS_SIMULATED
    return float(sum(k * 2 * simulations * n for n in scenario.evaluate.n_total))


MAX_TRACED = 20_000
"""Most patient journeys ``--trace`` logs (each gives about ten rows of ``events.csv``, all
held in memory)."""


def check_run(
    scenarios: ScenarioSet,
    engine: str,
    simulations: int,
    force: bool = False,
    trace: int = 0,
) -> None:
    """Refuse a run whose estimate is over the limits (unless ``force``).

    Raises
    ------
    SimtrialError
        Naming the estimate, the limit and what to change.
    """
    if simulations > limits.MAX_SIMULATIONS:
        raise SimtrialError(
            f"--simulations: at most {limits.MAX_SIMULATIONS:,}, got {simulations:,}"
        )
    problems = estimate_run(scenarios, engine, simulations).problems()
    traced = trace * sum(sum(s.evaluate.n_total) for s in scenarios.variants.values())
    if traced > MAX_TRACED:
        problems.append(
            f"--trace {trace} logs {traced:,} patient journeys (limit {MAX_TRACED:,}): "
            "trace fewer trials"
        )
    if problems and not force:
        raise SimtrialError(
            f"{scenarios.path or scenarios.name}: this run needs {' and '.join(problems)}; "
            "lower evaluate.n_total, sample_size.max_total or --simulations, "
            "or add --force to run it anyway"
        )
