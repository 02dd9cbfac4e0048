"""Typed results of a run; ``summary.json`` (DESIGN §5) is written from these."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

SUMMARY_VERSION = 1


def _round(value: Any, digits: int = 6) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, digits)
    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v, digits) for v in value]
    return value


@dataclass(frozen=True)
class PointResult:
    """Operating characteristics of one design point (one ``n_total`` of one variant).

    ``*_se`` are Monte Carlo standard errors, ``sqrt(p(1 − p)/N)`` for a proportion of N
    independent simulated trials (0 from the exact engine, except for assurance, which
    averages exact power over N parameter draws: SE = sd(power_i)/sqrt(N)).
    """

    n_total: int
    n_per_arm: dict[str, int]
    power: float
    power_se: float
    type1_error: float
    type1_error_se: float
    assurance: float
    assurance_se: float
    endpoint_probability: dict[str, float]
    infusions_per_patient: dict[str, float]
    adverse_events_per_patient: dict[str, float]
    serious_adverse_events_per_patient: dict[str, float]
    dropout_fraction: dict[str, float]
    stopped_early: dict[str, float]
    expected_n: float
    expected_duration_weeks: float | None
    simulations: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_total": self.n_total,
            "n_per_arm": dict(self.n_per_arm),
            "power": self.power,
            "power_se": self.power_se,
            "type1_error": self.type1_error,
            "type1_error_se": self.type1_error_se,
            "assurance": self.assurance,
            "assurance_se": self.assurance_se,
            "endpoint_probability": dict(self.endpoint_probability),
            "infusions_per_patient": dict(self.infusions_per_patient),
            "adverse_events_per_patient": dict(self.adverse_events_per_patient),
            "serious_adverse_events_per_patient": dict(self.serious_adverse_events_per_patient),
            "dropout_fraction": dict(self.dropout_fraction),
            "stopped_early": dict(self.stopped_early),
            "expected_n": self.expected_n,
            "expected_duration_weeks": self.expected_duration_weeks,
        }
        out.update(self.extra)
        return _round(out)


@dataclass(frozen=True)
class VariantResult:
    """All evaluated points of one variant."""

    name: str
    points: list[PointResult]
    boundaries: dict[str, Any] | None = None
    sample_size: dict[str, Any] | None = None
    # random arm parameters: the point value power used (mean or median) and why
    point_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    type1_curve: dict[str, Any] | None = None  # see simtrial.planning.curves

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "boundaries": self.boundaries,
            "point_values": _round(self.point_values),
            "points": [p.to_dict() for p in self.points],
        }
        if self.sample_size is not None:
            out["sample_size"] = _round(self.sample_size)
        if self.type1_curve is not None:
            out["type1_curve"] = _round(self.type1_curve, 8)
        return out


@dataclass(frozen=True)
class RunResult:
    """The result of ``simtrial run``: every variant, every point.

    Examples
    --------
    >>> result = simtrial.run(simtrial.load_scenario("scenarios/ra-phase2.yaml"))  # doctest: +SKIP
    >>> print(result)  # doctest: +SKIP
    """

    scenario: str
    seed: int
    simulations: int
    engine: str
    variants: dict[str, VariantResult]
    test: str = ""
    endpoint: str = ""
    version: str = ""
    design: dict[str, Any] | None = None
    sweep: Any = None
    """A :class:`simtrial.planning.sweep.SweepResult` when the scenario has ``evaluate.sweep``."""

    def design_summary(self) -> dict[str, Any] | None:
        """The design summary (:func:`simtrial.planning.design_summary`) of the scenario run."""
        return self.design

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scenario": self.scenario,
            "seed": self.seed,
            "simulations": self.simulations,
            "engine": self.engine,
            "test": self.test,
            "endpoint": self.endpoint,
            "simtrial_version": self.version,
            "variants": {name: v.to_dict() for name, v in self.variants.items()},
        }
        if self.design is not None:
            out["design"] = self.design
        if self.sweep is not None:
            for name, block in out["variants"].items():
                block["sweep"] = _round(self.sweep.variant_dict(name))
        return out

    def to_frame(self) -> Any:
        """One row per (variant, point) as a pandas DataFrame (per-arm values flattened)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows for ``points.csv``: per-arm dictionaries become ``key.arm`` columns."""
        rows = []
        for name, variant in self.variants.items():
            for point in variant.points:
                row: dict[str, Any] = {"variant": name}
                _flatten(point.to_dict(), "", row)
                rows.append(row)
        return rows

    def __str__(self) -> str:
        lines = [f"{self.scenario}: {self.engine} engine, {self.simulations} simulations"]
        for name, variant in self.variants.items():
            for p in variant.points:
                lines.append(
                    f"  {name:>16} n={p.n_total:<5d} power={p.power:.3f}±{p.power_se:.3f} "
                    f"type I={p.type1_error:.3f}±{p.type1_error_se:.3f} "
                    f"assurance={p.assurance:.3f}±{p.assurance_se:.3f}"
                )
        return "\n".join(lines)


def variant_title(result: RunResult, name: str) -> str:
    """A variant's name for a figure panel, tick or table column; '' when the file has no
    variants (its one variant is called "base", a word the reader never wrote)."""
    return "" if len(result.variants) == 1 and name == "base" else name


def _flatten(value: dict[str, Any], prefix: str, row: dict[str, Any]) -> None:
    """Nested dictionaries as dotted columns (``selection.selected.<arm>``)."""
    for key, v in value.items():
        if isinstance(v, dict):
            _flatten(v, f"{prefix}{key}.", row)
        else:
            row[f"{prefix}{key}"] = v
