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

import copy
import csv
import difflib
import io
import itertools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from simtrial.engines.results import PointResult
from simtrial.errors import PriorError, ScenarioError, SimtrialError
from simtrial.planning import curves
from simtrial.scenario.parameters import PriorParam
from simtrial.scenario.schema import Scenario, ScenarioSet, deep_merge
from simtrial.yamlio import Loc, format_loc, line_for

__all__ = ["MAX_TRIALS", "SweepResult", "check_sweep", "sweep"]

MAX_PARAMETERS = 2
MAX_TRIALS = 5_000_000
"""Largest cells × points × simulations × variants a sweep may ask for (about a few minutes of
the vectorized engine on one core; each cell also runs its type I error and assurance trials)."""

NOT_SWEPT = ("name", "seed", "description", "simulations", "evaluate", "variants")
MEASURES = ("power", "power_any_direction", "type1_error", "assurance")

_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$")


# -- the spec -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep: parameter paths, their values and the sizes to evaluate."""

    paths: tuple[str, ...]
    locs: tuple[Loc, ...]
    values: tuple[tuple[Any, ...], ...]
    n_total: tuple[int, ...] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.values)

    def combinations(self) -> list[tuple[int, ...]]:
        return list(itertools.product(*(range(k) for k in self.shape)))


class _Where:
    """Formats errors with the file and the line of the sweep entry."""

    def __init__(self, scenarios: ScenarioSet, lines: Mapping[Loc, int] | None) -> None:
        self.file = str(scenarios.path) if scenarios.path else None
        self.lines = lines or {}

    def error(self, message: str, loc: Loc, path: str) -> ScenarioError:
        return ScenarioError(message, file=self.file, line=line_for(self.lines, loc), path=path)


def parse_path(path: str) -> Loc:
    """``arms.msc.schedule.infusion_weeks[2]`` → ``("arms", "msc", "schedule", "infusion_weeks",
    2)``; raises ValueError for anything else."""
    loc: list[str | int] = []
    for part in path.split("."):
        match = _PART.match(part)
        if not match:
            raise ValueError(
                f"not a field path: {path!r} (write it as in error messages, e.g. "
                "arms.msc.response.ceiling or arms.msc.schedule.infusion_weeks[2])"
            )
        loc.append(match.group(1))
        loc += [int(i) for i in re.findall(r"\[(\d+)\]", match.group(2))]
    return tuple(loc)


def resolve(scenario: Scenario, loc: Loc) -> Any:
    """The value at ``loc`` in a validated scenario; ValueError (with did-you-mean) if the
    scenario has no such field."""
    obj: Any = scenario
    for depth, part in enumerate(loc):
        here = format_loc(loc[:depth]) or "the scenario"
        if isinstance(part, int):
            if not isinstance(obj, list):
                raise ValueError(f"{here} is not a list; [{part}] does not apply")
            if part >= len(obj):
                raise ValueError(f"{here} has {len(obj)} items; index {part} is out of range")
            obj = obj[part]
            continue
        if isinstance(obj, BaseModel):
            names = sorted(type(obj).model_fields)
        elif isinstance(obj, dict):
            names = sorted(obj)
        elif obj is None:
            raise ValueError(
                f"{here} is not given in this scenario; write it there (with the value to use "
                "outside the sweep) before sweeping a field inside it"
            )
        else:
            raise ValueError(f"{here} is a single value ({obj}); sweep it as a whole")
        if part not in names:
            hint = difflib.get_close_matches(str(part), names, n=1)
            message = f"{format_loc(loc[: depth + 1])} does not exist"
            if hint:
                message += f"; did you mean {format_loc(loc[:depth] + (hint[0],))!r}?"
            message += f" ({here} has: {', '.join(names)})"
            raise ValueError(message)
        obj = getattr(obj, part) if isinstance(obj, BaseModel) else obj[part]
    return obj


def variant_data(scenarios: ScenarioSet) -> dict[str, dict[str, Any]]:
    """The plain data of every variant (base deep-merged with the variant's changes)."""
    raw = scenarios.raw
    base = {k: v for k, v in raw.items() if k != "variants"}
    if not raw.get("variants"):
        return {name: copy.deepcopy(base) for name in scenarios.variants}
    return {name: deep_merge(base, raw["variants"][name]) for name in scenarios.variants}


def _set(data: dict[str, Any], loc: Loc, value: Any, merge: bool) -> dict[str, Any]:
    """A copy of ``data`` with ``value`` at ``loc`` (deep-merged when ``merge``)."""
    out = copy.deepcopy(data)
    parent: Any = out
    for part in loc[:-1]:
        if isinstance(parent, dict):
            parent = parent.setdefault(part, {})
        else:
            parent = parent[part]
    last = loc[-1]
    old = parent.get(last) if isinstance(parent, dict) else parent[last]
    if merge and isinstance(value, Mapping) and isinstance(old, Mapping):
        parent[last] = deep_merge(old, value)
    else:
        parent[last] = copy.deepcopy(value)
    return out


def _strip(data: dict[str, Any], n_total: tuple[int, ...] | None) -> dict[str, Any]:
    """Cell data: no sweep, no sample-size search; ``n_total`` = the sizes swept."""
    out = copy.deepcopy(data)
    evaluate = dict(out.get("evaluate") or {})
    for key in ("sweep", "sweep_n_total", "sample_size"):
        evaluate.pop(key, None)
    if n_total is not None:
        evaluate["n_total"] = list(n_total)
    out["evaluate"] = evaluate
    return out


def _cell_data(
    data: dict[str, Any], scenario: Scenario, spec: SweepSpec, index: tuple[int, ...]
) -> dict[str, Any]:
    for loc, values, i in zip(spec.locs, spec.values, index, strict=True):
        merge = isinstance(resolve(scenario, loc), BaseModel)
        data = _set(data, loc, values[i], merge)
    return data


def _check_priors(cell: Scenario, loc: Loc) -> None:
    for where, param in cell.parameters():
        if isinstance(param, PriorParam) and where[: len(loc)] == loc:
            from simtrial.priors import store

            store.resolve_index(param.fit, param.var, param.index)


def parse_spec(
    scenarios: ScenarioSet,
    raw: Any,
    n_total: Any = None,
    lines: Mapping[Loc, int] | None = None,
    simulations: int | None = None,
    check_priors: bool = True,
) -> SweepSpec:
    """Check a sweep ``{PATH: [values...]}`` against a scenario; raise one ScenarioError.

    Every value is substituted alone into every variant and validated as a whole scenario
    (errors point at the value's line); then every combination is validated too.
    """
    where = _Where(scenarios, lines)
    top: Loc = ("evaluate", "sweep")
    if not isinstance(raw, Mapping) or not raw:
        raise where.error("a sweep is a mapping {PATH: [values...]}", top, "evaluate.sweep")
    if len(raw) > MAX_PARAMETERS:
        extra = list(raw)[MAX_PARAMETERS]
        raise where.error(
            f"at most {MAX_PARAMETERS} parameters can be swept together, got {len(raw)}; "
            "run a second sweep for the others",
            top + (extra,),
            f"evaluate.sweep.{extra}",
        )
    data = variant_data(scenarios)
    paths, locs, values = [], [], []
    for path, vals in raw.items():
        entry: Loc = top + (str(path),)
        shown = f"evaluate.sweep.{path}"
        try:
            loc = parse_path(str(path))
        except ValueError as exc:
            raise where.error(str(exc), entry, shown) from None
        if loc[0] in NOT_SWEPT:
            raise where.error(
                f"{loc[0]!r} cannot be swept (allowed: fields of arms, endpoint, enrolment, "
                "analysis, safety, operations)",
                entry,
                shown,
            )
        for scenario in scenarios.variants.values():
            try:
                resolve(scenario, loc)
            except ValueError as exc:
                raise where.error(str(exc), entry, shown) from None
        if loc in locs:
            raise where.error(f"{path} is swept twice", entry, shown)
        if not isinstance(vals, list) or not vals:
            raise where.error("give a non-empty list of values, e.g. [0.15, 0.25]", entry, shown)
        for i, v in enumerate(vals):
            if any(v == w for w in vals[:i]):
                raise where.error(f"value {v!r} is given twice", entry + (i,), f"{shown}[{i}]")
        one = SweepSpec(
            (str(path),), (loc,), (tuple(vals),), None if n_total is None else tuple(n_total)
        )
        for vname, scenario in scenarios.variants.items():
            for (i,) in one.combinations():
                cell = _validate_cell(data[vname], scenario, one, (i,))
                if isinstance(cell, str):
                    raise where.error(cell, entry + (i,), f"{shown}[{i}]")
                if check_priors:
                    try:
                        _check_priors(cell, loc)
                    except PriorError as exc:
                        raise where.error(str(exc), entry + (i,), f"{shown}[{i}]") from None
        paths.append(str(path))
        locs.append(loc)
        values.append(tuple(vals))
    sizes = None
    if n_total is not None:
        sizes = tuple(n_total)
    spec = SweepSpec(tuple(paths), tuple(locs), tuple(values), sizes)
    if len(spec.paths) == 2:
        for vname, scenario in scenarios.variants.items():
            for index in spec.combinations():
                cell = _validate_cell(data[vname], scenario, spec, index)
                if isinstance(cell, str):
                    combo = ", ".join(
                        f"{p} = {v[i]!r}" for p, v, i in zip(paths, values, index, strict=True)
                    )
                    message = f"the cell {combo} is not valid: {cell}"
                    raise where.error(message, top, "evaluate.sweep")
    check_size(scenarios, spec, simulations, lines)
    return spec


def _validate_cell(
    data: dict[str, Any], scenario: Scenario, spec: SweepSpec, index: tuple[int, ...]
) -> Scenario | str:
    """The cell's scenario, or the validation message."""
    from simtrial.scenario.schema import _describe_error

    cell_data = _strip(_cell_data(data, scenario, spec, index), spec.n_total)
    try:
        return Scenario.model_validate(cell_data)
    except ValidationError as exc:
        loc, message = _describe_error(exc.errors(include_url=False)[0])
        if loc in spec.locs:  # the swept field itself
            return message
        if any(loc[: len(s)] == s for s in spec.locs):  # inside the swept field
            return f"{format_loc(loc)}: {message}"
        return f"with this value, {format_loc(loc) or 'the scenario'}: {message}"


def sizes(scenario: Scenario, spec: SweepSpec) -> tuple[int, ...]:
    return spec.n_total or tuple(scenario.evaluate.sweep_n_total or scenario.evaluate.n_total)


def check_size(
    scenarios: ScenarioSet,
    spec: SweepSpec,
    simulations: int | None = None,
    lines: Mapping[Loc, int] | None = None,
) -> None:
    """Refuse a sweep of more than :data:`MAX_TRIALS` simulated trials per purpose."""
    sims = simulations if simulations is not None else scenarios.base.simulations
    cells = math.prod(spec.shape)
    points = sum(len(sizes(sc, spec)) for sc in scenarios.variants.values())
    total = cells * points * sims
    if total > MAX_TRIALS:
        raise _Where(scenarios, lines).error(
            f"the sweep asks for {total:,} simulated trials ({cells} cells × {points} "
            f"points over the variants × {sims} simulations); the limit is {MAX_TRIALS:,}: "
            "use fewer values, evaluate.sweep_n_total, or fewer simulations (--simulations)",
            ("evaluate", "sweep"),
            "evaluate.sweep",
        )


def check_sweep(
    scenarios: ScenarioSet, lines: Mapping[Loc, int] | None = None, check_priors: bool = True
) -> SweepSpec:
    """Check ``evaluate.sweep`` of a loaded scenario file (called by
    :func:`simtrial.scenario.schema.validate_data`); the sweep belongs to the base scenario."""
    where = _Where(scenarios, lines)
    for vname, vdata in (scenarios.raw.get("variants") or {}).items():
        evaluate = vdata.get("evaluate") if isinstance(vdata, Mapping) else None
        for key in ("sweep", "sweep_n_total"):
            if isinstance(evaluate, Mapping) and key in evaluate:
                loc: Loc = ("variants", vname, "evaluate", key)
                raise where.error(
                    f"a variant cannot change evaluate.{key}: the sweep applies to every "
                    "variant; give it in the base scenario",
                    loc,
                    format_loc(loc),
                )
    base = scenarios.base
    if base.evaluate.sweep is None:
        loc = ("evaluate", "sweep_n_total")
        raise where.error("sweep_n_total is used only with evaluate.sweep", loc, format_loc(loc))
    for i, n in enumerate(base.evaluate.sweep_n_total or []):
        for scenario in scenarios.variants.values():
            step = sum(a.allocation for a in scenario.arms.values())
            if n % step:
                loc = ("evaluate", "sweep_n_total", i)
                raise where.error(
                    f"n_total {n} cannot be split between the arms; use a multiple of {step}",
                    loc,
                    format_loc(loc),
                )
    return parse_spec(
        scenarios,
        base.evaluate.sweep,
        base.evaluate.sweep_n_total,
        lines,
        check_priors=check_priors,
    )


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
    >>> r.plot()  # doctest: +SKIP
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

    def plot(self, measure: str = "power") -> Any:
        """A heat map (two parameters) or lines with ±2 SE bands (one): a matplotlib Figure."""
        from simtrial.report.sweep import sweep_figure

        return sweep_figure(self, measure)

    def __str__(self) -> str:
        from rich.console import Console

        from simtrial.report.sweep import sweep_tables

        console = Console(width=120, record=True, file=io.StringIO(), color_system=None)
        for table in sweep_tables(self):
            console.print(table)
        return console.export_text()


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
            cell = _validate_cell(data[vname], scenario, spec, index)
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
    from simtrial.engines import get_engine
    from simtrial.planning.power import default_engine

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
