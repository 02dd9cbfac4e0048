"""The ``evaluate.sweep`` block of a scenario file: parsed and checked when the file is loaded
(:func:`check_sweep`, with the validator's ``file:line: field`` errors), run by
:mod:`simtrial.planning.sweep`."""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from simtrial.errors import PriorError, ScenarioError
from simtrial.scenario.parameters import PriorParam
from simtrial.scenario.schema import Scenario, ScenarioSet, deep_merge
from simtrial.yamlio import Loc, format_loc, line_for

__all__ = ["MAX_PARAMETERS", "MAX_TRIALS", "SweepSpec", "check_sweep", "parse_spec"]

MAX_PARAMETERS = 2
MAX_TRIALS = 5_000_000
"""Largest cells × points × simulations × variants a sweep may ask for (about a few minutes of
the vectorized engine on one core; each cell also runs its type I error and assurance trials)."""

NOT_SWEPT = ("name", "seed", "description", "simulations", "evaluate", "variants")

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
                cell = validate_cell(data[vname], scenario, one, (i,))
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
                cell = validate_cell(data[vname], scenario, spec, index)
                if isinstance(cell, str):
                    combo = ", ".join(
                        f"{p} = {v[i]!r}" for p, v, i in zip(paths, values, index, strict=True)
                    )
                    message = f"the cell {combo} is not valid: {cell}"
                    raise where.error(message, top, "evaluate.sweep")
    check_size(scenarios, spec, simulations, lines)
    return spec


def validate_cell(
    data: dict[str, Any], scenario: Scenario, spec: SweepSpec, index: tuple[int, ...]
) -> Scenario | str:
    """The cell's scenario, or the validation message."""
    from simtrial.scenario.messages import _describe_error

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
    :func:`simtrial.scenario.load.validate_data`); the sweep belongs to the base scenario."""
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
