"""Run a scenario: every variant at every ``n_total``, on one engine.

Power uses each parameter's mean; type I error is power with each treatment arm behaving like
the control; assurance averages power over the parameters' (joint) distribution.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from simtrial.engines import get_engine
from simtrial.engines.base import has_uncertainty
from simtrial.results import RunResult, VariantResult
from simtrial.scenario import ScenarioSet

ProgressFactory = Callable[[int], Callable[[int], None]]


def _version() -> str:
    try:
        return version("simtrial")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def default_engine(scenarios: ScenarioSet) -> str:
    """``des`` for scenarios with an ``operations`` block, else ``vectorized``."""
    return "des" if scenarios.base.operations is not None else "vectorized"


def total_work(scenarios: ScenarioSet, engine: str, simulations: int) -> int:
    """Number of simulated trials a run will report progress for."""
    total = 0
    for scenario in scenarios.variants.values():
        if engine == "exact":
            per_point = simulations
        else:
            per_point = simulations * (3 if has_uncertainty(scenario) else 2)
        total += per_point * len(scenario.evaluate.n_total)
    return total


def run(
    scenarios: ScenarioSet,
    engine: str | None = None,
    simulations: int | None = None,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Evaluate every variant of a scenario at every ``evaluate.n_total``.

    Parameters
    ----------
    scenarios : ScenarioSet
        From :func:`simtrial.load_scenario`.
    engine : {"exact", "vectorized"}, optional
        Default: ``vectorized`` (``des`` when the scenario has ``operations``).
    simulations, seed : int, optional
        Override the scenario's values.
    progress : callable, optional
        Called with the number of trials just simulated.

    Returns
    -------
    RunResult
    """
    engine_name = engine or default_engine(scenarios)
    impl = get_engine(engine_name)
    base = scenarios.base
    sims = simulations if simulations is not None else base.simulations
    the_seed = seed if seed is not None else base.seed
    for scenario in scenarios.variants.values():
        impl.check(scenario)
    variants = {}
    for name, scenario in scenarios.variants.items():
        points = [
            impl.evaluate(scenario, name, n, sims, the_seed, progress)
            for n in scenario.evaluate.n_total
        ]
        variants[name] = VariantResult(name=name, points=points)
    return RunResult(
        scenario=scenarios.name,
        seed=the_seed,
        simulations=sims,
        engine=engine_name,
        variants=variants,
        test=base.analysis.test,
        endpoint=base.endpoint.kind,
        version=_version(),
    )
