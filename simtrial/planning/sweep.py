"""Sensitivity sweeps: operating characteristics over a grid of one or two scenario parameters.

A scenario asks for a sweep with ``evaluate.sweep``::

    evaluate:
      n_total: [24, 40, 60, 80]
      sweep:
        arms.placebo.endpoint_probability: [0.15, 0.25, 0.35]
        arms.msc.response.ceiling: [0.6, 0.8, 1.0]
      sweep_n_total: [60]          # optional; default: every evaluate.n_total

or from Python, ``simtrial.sweep(scenarios, {PATH: [values...]})``.

Semantics
---------
- ``PATH`` is a dotted field path into the scenario, written as in error messages
  (``arms.msc.response.ceiling``, ``arms.msc.schedule.infusion_weeks[2]``). It must name a field
  that the scenario has (a default counts: ``response.ceiling`` is 1 when not written); ``name``,
  ``seed``, ``description``, ``simulations``, ``evaluate`` and ``variants`` cannot be swept.
- Each **cell** of the grid (every combination of the values, at most two parameters) replaces
  the value at every ``PATH`` in **every variant** — a sweep value wins over a variant's own
  change of that field — and the result is validated as a whole scenario, like a variant. A value
  replaces a number, a list or a parameter (``0.3``, ``{beta: [3, 9]}``, ``{prior: FIT/VAR}``);
  a mapping swept at a *block* (``analysis.interims``) is deep-merged into it, as variants are.
- Each cell is evaluated at every ``evaluate.sweep_n_total`` (default: every ``n_total``), with
  the run's engine and number of simulations: power (treatment better), power in either
  direction, type I error, assurance and the endpoint probability per arm, with Monte Carlo SEs.
- **Random streams: common random numbers.** A cell's streams are keyed exactly like the
  unswept point — (seed, variant, n_total, purpose, block) — so every cell of a variant reuses
  the same random numbers. Differences between cells then come from the parameter values, not
  from different draws (the heat map is smooth and comparisons between cells are much more
  precise than two independent runs), and the cell whose values equal the scenario's own
  reproduces the main result exactly. Each cell's SE is still the SE of that cell's estimate;
  the cells are correlated, so do not pool them as independent. Results are identical with
  ``--workers``/Dask (the cells run through the same engine interface, task by task).
- The work is bounded: cells × points × simulations × variants at most :data:`MAX_TRIALS`.

Output: ``variants.<v>.sweep`` in ``summary.json`` (:meth:`SweepResult.variant_dict`),
``sweep.csv``, ``sweep.png``, the report section "Sensitivity" and a
compact terminal table (all in :mod:`simtrial.report.sweep`).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from simtrial.engines.results import PointResult
from simtrial.errors import ScenarioError, SimtrialError
from simtrial.planning import curves
from simtrial.scenario.schema import ScenarioSet
from simtrial.scenario.sweep_spec import (
    MAX_TRIALS,
    SweepSpec,
    check_size,
    check_sweep,
    parse_spec,
    resolve,
    sizes,
    validate_cell,
    variant_data,
)

__all__ = ["MAX_TRIALS", "SweepResult", "check_sweep", "sweep"]

MEASURES = ("power", "power_any_direction", "type1_error", "assurance")


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepCell:
    """One cell of one variant at one ``n_total``."""

    variant: str
    index: tuple[int, ...]
    n_total: int
    point: PointResult
    own: bool

    def measures(self) -> dict[str, Any]:
        d = self.point.to_dict()
        out: dict[str, Any] = {}
        for key in MEASURES:
            if key in d:
                out[key] = d[key]
                out[f"{key}_se"] = d.get(f"{key}_se")
        out["endpoint_probability"] = d["endpoint_probability"]
        return out


@dataclass(frozen=True)
class SweepResult:
    """Operating characteristics over a grid of parameter values (see the module docstring).

    Examples
    --------
    >>> s = simtrial.load_scenario("scenarios/ra-phase2.yaml")  # doctest: +SKIP
    >>> r = simtrial.sweep(  # doctest: +SKIP
    ...     s, {"arms.msc.response.ceiling": [0.6, 0.8, 1.0]}, n_total=[60]
    ... )
    >>> r.to_frame()  # doctest: +SKIP
    >>> simtrial.sweep_figure(r)  # doctest: +SKIP
    """

    paths: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    labels: tuple[tuple[str, ...], ...]
    n_total: dict[str, tuple[int, ...]]
    own: dict[str, tuple[int | None, ...]]
    cells: list[SweepCell]
    engine: str = ""
    simulations: int = 0
    seed: int = 0
    arms: tuple[str, ...] = field(default_factory=tuple)

    @property
    def variants(self) -> list[str]:
        return list(self.own)

    def cell(self, variant: str, index: tuple[int, ...], n_total: int) -> SweepCell:
        for c in self.cells:
            if c.variant == variant and c.index == tuple(index) and c.n_total == n_total:
                return c
        raise KeyError((variant, index, n_total))

    def variant_dict(self, variant: str) -> dict[str, Any]:
        """``variants.<variant>.sweep`` of ``summary.json``."""
        return {
            "parameters": list(self.paths),
            "values": [list(v) for v in self.values],
            "labels": [list(v) for v in self.labels],
            "n_total": list(self.n_total[variant]),
            "own": list(self.own[variant]),
            "cells": [
                {
                    "index": list(c.index),
                    "values": [self.values[k][i] for k, i in enumerate(c.index)],
                    "n_total": c.n_total,
                    "own": c.own,
                    **c.measures(),
                }
                for c in self.cells
                if c.variant == variant
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        return {v: self.variant_dict(v) for v in self.variants}

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows for ``sweep.csv``: one per (variant, n_total, cell)."""
        rows = []
        for c in self.cells:
            row: dict[str, Any] = {"variant": c.variant, "n_total": c.n_total}
            for k, path in enumerate(self.paths):
                row[path] = self.labels[k][c.index[k]]
            row["own"] = c.own
            for key, value in c.measures().items():
                if isinstance(value, dict):
                    for arm, v in value.items():
                        row[f"{key}.{arm}"] = v
                else:
                    row[key] = value
            rows.append(row)
        return rows

    def to_frame(self) -> Any:
        """One row per (variant, n_total, cell) as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_csv(self) -> str:
        rows = self.rows()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
        return buffer.getvalue()

    def __str__(self) -> str:
        """One line per cell (``*``: the scenario's own values); ``simtrial.sweep_text`` gives
        the tables and ``simtrial.sweep_figure`` the figure."""
        lines = [
            f"sweep of {', '.join(self.paths)}: {self.engine} engine, {self.simulations} trials"
        ]
        for c in self.cells:
            where = ", ".join(
                f"{p}={self.labels[k][i]}"
                for k, (p, i) in enumerate(zip(self.paths, c.index, strict=False))
            )
            lines.append(
                f"  {c.variant} n={c.n_total} {where}{' *' if c.own else ''}: "
                f"power {c.point.power:.3f}±{c.point.power_se:.3f}"
            )
        return "\n".join(lines)


# -- running --------------------------------------------------------------------------------


def _label(obj: Any, raw: Any) -> str:
    if isinstance(obj, BaseModel) or obj is None:
        return str(raw)
    if isinstance(obj, list):
        return "[" + ", ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in obj) + "]"
    if isinstance(obj, float):
        return f"{obj:g}"
    return str(obj)


def run_sweep(
    impl: Any,
    scenarios: ScenarioSet,
    spec: SweepSpec,
    simulations: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> SweepResult:
    """Evaluate every cell of ``spec`` in every variant with an engine (``impl``: an engine or
    a :class:`~simtrial.planning.parallel.DistributedEngine`), streams keyed like the unswept
    points."""
    check_size(scenarios, spec, simulations)
    data = variant_data(scenarios)
    cells: list[SweepCell] = []
    own: dict[str, tuple[int | None, ...]] = {}
    n_totals: dict[str, tuple[int, ...]] = {}
    labels: list[list[str]] = [[""] * k for k in spec.shape]
    for vname, scenario in scenarios.variants.items():
        own_values = [resolve(scenario, loc) for loc in spec.locs]
        built = {}
        for index in spec.combinations():
            cell = validate_cell(data[vname], scenario, spec, index)
            if isinstance(cell, str):  # checked on load; a Python caller may skip that
                raise SimtrialError(f"sweep cell {index} of variant {vname}: {cell}")
            impl.check(cell)
            built[index] = cell
        marks: list[int | None] = []
        for k, loc in enumerate(spec.locs):
            found = None
            for i in range(spec.shape[k]):
                index = tuple(i if j == k else 0 for j in range(len(spec.locs)))
                value = resolve(built[index], loc)
                if not labels[k][i]:
                    labels[k][i] = _label(value, spec.values[k][i])
                if value == own_values[k]:
                    found = i
            marks.append(found)
        own[vname] = tuple(marks)
        n_totals[vname] = sizes(scenario, spec)
        # a calibrating design is calibrated in every cell, as the run's own points are
        engines = {index: curves.calibrated_engine(impl, cell) for index, cell in built.items()}
        for n in n_totals[vname]:
            for index, cell in built.items():
                point = engines[index].evaluate(cell, vname, n, simulations, seed, progress)
                is_own = all(m == i for m, i in zip(marks, index, strict=True))
                cells.append(SweepCell(vname, index, n, point, is_own))
    return SweepResult(
        paths=spec.paths,
        values=spec.values,
        labels=tuple(tuple(v) for v in labels),
        n_total=n_totals,
        own=own,
        cells=cells,
        engine=getattr(impl, "name", ""),
        simulations=simulations,
        seed=seed,
        arms=tuple(scenarios.base.arms),
    )


def sweep_work(scenarios: ScenarioSet, engine: str, simulations: int) -> int:
    """Trials a scenario's own sweep will report progress for (0 without a sweep)."""
    from simtrial.engines import get_engine

    spec_raw = scenarios.base.evaluate.sweep
    if spec_raw is None:
        return 0
    impl: Any = get_engine(engine)
    cells = math.prod(len(v) for v in spec_raw.values())
    total = 0
    for scenario in scenarios.variants.values():
        if hasattr(impl, "tasks"):  # every purpose the engine simulates (as power.total_work)
            per_point = sum(trials for _, _, trials in impl.tasks(scenario, simulations))
        else:
            per_point = simulations
        n = len(scenario.evaluate.sweep_n_total or scenario.evaluate.n_total)
        total += cells * n * per_point
    return total


def sweep(
    scenarios: ScenarioSet,
    parameters: Mapping[str, list[Any]] | None = None,
    *,
    n_total: list[int] | None = None,
    engine: str | None = None,
    simulations: int | None = None,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
    executor: Any = None,
) -> SweepResult:
    """Operating characteristics over a grid of one or two scenario parameters.

    Parameters
    ----------
    scenarios : ScenarioSet
        From :func:`simtrial.load_scenario`.
    parameters : mapping, optional
        ``{PATH: [values...]}``, one or two entries (default: the file's ``evaluate.sweep``).
    n_total : list of int, optional
        Sizes to evaluate (default: ``evaluate.sweep_n_total``, else ``evaluate.n_total``).
    engine, simulations, seed, progress, executor
        As for :func:`simtrial.run`.

    Returns
    -------
    SweepResult
        With ``to_frame()``, ``plot()``, ``to_dict()``.

    Raises
    ------
    ScenarioError
        A path the scenario does not have, an invalid value, more than two parameters or a
        sweep beyond :data:`MAX_TRIALS`.
    """
    from simtrial.engines import default_engine, get_engine

    base = scenarios.base
    raw = parameters if parameters is not None else base.evaluate.sweep
    if raw is None:
        raise ScenarioError(
            "no sweep: give parameters={PATH: [values...]} or evaluate.sweep in the file"
        )
    if n_total is None and parameters is None:
        n_total = base.evaluate.sweep_n_total
    sims = simulations if simulations is not None else base.simulations
    spec = parse_spec(scenarios, dict(raw), n_total, simulations=sims)
    engine_name = engine or default_engine(scenarios)
    impl: Any = get_engine(engine_name)
    if executor is not None and hasattr(impl, "tasks"):
        from simtrial.planning.parallel import DistributedEngine

        impl = DistributedEngine(impl, executor)
    return run_sweep(impl, scenarios, spec, sims, seed if seed is not None else base.seed, progress)
