"""Shared helpers for tests: small scenarios built in code."""

from __future__ import annotations

from typing import Any

from simtrial.scenario.load import validate_data
from simtrial.scenario.schema import ScenarioSet, deep_merge

BASE: dict[str, Any] = {
    "name": "test",
    "seed": 12345,
    "simulations": 4000,
    "enrolment": {"rate_per_week": 2.0},
    "endpoint": {"kind": "responder", "week": 12, "missing": "non_responder"},
    "arms": {
        "control": {"allocation": 1, "endpoint_probability": 0.3, "dropout": {"per_year": 0.1}},
        "msc": {
            "allocation": 1,
            "schedule": {"infusion_weeks": [0, 4, 8]},
            "response": {
                "induction": 0.4,
                "loss_per_week": 0.05,
                "ceiling": 0.9,
                "onset_weeks": 2,
            },
            "adverse_events": {"per_infusion": 0.1, "serious_rate_per_year": 0.5},
            "dropout": {"per_year": 0.2},
        },
    },
    "analysis": {"test": "fisher_exact", "treatment": "msc", "control": "control"},
    "evaluate": {"n_total": [40]},
}


def scenario(changes: dict[str, Any] | None = None) -> ScenarioSet:
    """The BASE scenario with ``changes`` deep-merged in (None values replace)."""
    return validate_data(deep_merge(BASE, changes or {}), file="<test>")
