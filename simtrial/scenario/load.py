"""Loading a scenario file: YAML with line numbers → variants merged on the base → validated
:class:`~simtrial.scenario.schema.ScenarioSet` (bounds, fitted priors and the sweep checked)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    ValidationError,
)

from simtrial.errors import PriorError, ScenarioError
from simtrial.scenario.messages import (
    _raise_at,
    _raise_validation,
)
from simtrial.scenario.parameters import PriorParam
from simtrial.scenario.schema import (
    Scenario,
    ScenarioSet,
    _match,
    deep_merge,
)
from simtrial.yamlio import Loc, format_loc, line_for, load_yaml, locate_merged


def _check_limits(
    scenario: Scenario,
    file: str | None,
    lines: Mapping[Loc, int],
    variant: str | None,
    base_data: Any,
    variant_data: Any,
) -> None:
    """Documented upper bounds (:mod:`.limits`) and warnings for values not meant."""
    from simtrial.scenario import limits

    problems = limits.check_scenario(scenario)
    if problems:
        loc, message = problems[0]
        _raise_at(loc, message, file, lines, variant, base_data, variant_data, True)
    for loc, message in limits.scenario_warnings(scenario):
        line, path = locate_merged(loc, lines, variant, base_data, variant_data)
        where = (file or "<scenario>") + (f":{line}" if line is not None else "")
        limits.warn(f"{where}: {path}: {message}")


def validate_data(
    data: Any,
    file: str | None = None,
    lines: Mapping[Loc, int] | None = None,
    check_priors: bool = True,
) -> ScenarioSet:
    """Validate already-loaded scenario data (a mapping) into a :class:`ScenarioSet`."""
    lines = lines or {}
    if not isinstance(data, dict):
        raise ScenarioError(
            f"a scenario is a mapping of fields, got {type(data).__name__}", file=file, line=1
        )
    raw_variants = data.get("variants")
    base_data = {k: v for k, v in data.items() if k != "variants"}
    variants: dict[str, Scenario] = {}
    if raw_variants is None:
        todo: list[tuple[str | None, dict[str, Any], Any]] = [(None, base_data, None)]
    else:
        if not isinstance(raw_variants, dict) or not raw_variants:
            raise ScenarioError(
                "variants must be a non-empty mapping of name → changes",
                file=file,
                line=line_for(lines, ("variants",)),
                path="variants",
            )
        todo = []
        for vname, vdata in raw_variants.items():
            vloc: Loc = ("variants", vname)
            if not isinstance(vname, str) or not _match(r"^[a-z0-9][a-z0-9_-]*$", vname):
                raise ScenarioError(
                    f"variant name {vname!r} must be lower case letters, digits, - and _",
                    file=file,
                    line=line_for(lines, vloc),
                    path=format_loc(vloc),
                )
            if not isinstance(vdata, dict):
                raise ScenarioError(
                    "a variant is a mapping of the fields it changes",
                    file=file,
                    line=line_for(lines, vloc),
                    path=format_loc(vloc),
                )
            for forbidden in ("variants", "name", "seed"):
                if forbidden in vdata:
                    raise ScenarioError(
                        f"a variant cannot change {forbidden!r} (results of all variants go "
                        "together and share the seed)",
                        file=file,
                        line=line_for(lines, vloc + (forbidden,)),
                        path=format_loc(vloc + (forbidden,)),
                    )
            todo.append((vname, deep_merge(base_data, vdata), vdata))
    for vname, merged, own in todo:
        try:
            scenario = Scenario.model_validate(merged)
        except ValidationError as exc:
            others = [m for v, m, _ in todo if v != vname]
            _raise_validation(exc, file, lines, vname, base_data, own, others)
        _check_limits(scenario, file, lines, vname, base_data, own)
        if check_priors:
            _check_priors(scenario, file, lines, vname, base_data, own)
        variants[vname or "base"] = scenario
    name = next(iter(variants.values())).name
    result = ScenarioSet(path=Path(file) if file else None, name=name, variants=variants, raw=data)
    if any(sc.evaluate.sweep or sc.evaluate.sweep_n_total for sc in variants.values()):
        from simtrial.scenario.sweep_spec import check_sweep

        check_sweep(result, lines, check_priors=check_priors)
    return result


def _check_priors(
    scenario: Scenario,
    file: str | None,
    lines: Mapping[Loc, int],
    variant: str | None,
    base_data: Any,
    variant_data: Any,
) -> None:
    """Every ``{prior: FIT/VAR[INDEX]}`` must name a committed fit, variable and index, of the
    kind the parameter needs (a probability or a rate); with ``evaluate.point_values: mean``,
    every arm parameter's mean must be a usable summary."""
    from simtrial.scenario.limits import check_prior_kind, parameter_kind
    from simtrial.scenario.parameters import UnusableMean, point_value

    rule = scenario.evaluate.point_values
    for loc, param in scenario.parameters():
        problem: str | None = None
        try:
            if isinstance(param, PriorParam):
                from simtrial.priors import store

                store.resolve_index(param.fit, param.var, param.index)
                problem = check_prior_kind(param.fit, param.var, param.index, parameter_kind(loc))
            if problem is None and rule == "mean" and loc[0] == "arms":
                point_value(param, rule)
        except (PriorError, UnusableMean) as exc:
            problem = str(exc)
        if problem is not None:
            _raise_at(loc, problem, file, lines, variant, base_data, variant_data, True)


def load_scenario(path: str | Path, check_priors: bool = True) -> ScenarioSet:
    """Load and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    check_priors : bool
        Check that every ``{prior: ...}`` reference resolves to a committed fit.

    Raises
    ------
    ScenarioError
        With the file, line and field path of the first problem.

    Examples
    --------
    >>> s = load_scenario("scenarios/ra-phase2.yaml")  # doctest: +SKIP
    >>> s.base.n_per_arm(40)  # doctest: +SKIP
    {'placebo': 20, 'msc': 20}
    """
    data, lines = load_yaml(path)
    return validate_data(data, file=str(path), lines=lines, check_priors=check_priors)
