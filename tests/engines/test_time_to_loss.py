"""The time_to_loss endpoint and the log-rank test in the vectorized engine.

References: the exponential maximum-likelihood estimate of the loss hazard (events divided by
time at risk; its SE is λ/√events), Schoenfeld's (1981) approximation of log-rank power, and
the test's size under H0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simtrial.analysis.survival import exponential_logrank_power
from simtrial.engines.base import point_values
from simtrial.engines.exact import ExactEngine
from simtrial.engines.vectorized import VectorizedEngine, simulate_arm
from simtrial.errors import EngineError
from tests.helpers import scenario

TTL = {
    "endpoint": {"kind": "time_to_loss", "week": None, "follow_up_weeks": 52},
    "arms": {
        "control": {
            "endpoint_probability": None,
            "schedule": {"infusion_weeks": [0]},
            "response": {"induction": 0.6, "loss_per_week": 0.08, "onset_weeks": 1},
        },
        "msc": {"response": {"loss_per_week": 0.04}},
    },
    "analysis": {"test": "logrank"},
    "evaluate": {"n_total": [200]},
}


@pytest.mark.parametrize("arm,lam", [("control", 0.08), ("msc", 0.04)])
def test_loss_hazard_recovered_by_exponential_mle(arm, lam):
    s = scenario(TTL).base
    out = simulate_arm(np.random.default_rng(3), 200, 100, point_values(s)[arm], s.endpoint)
    time, event = out.loss_time, out.loss_event
    seen = ~np.isnan(time)
    events = event[seen].sum()
    mle = events / time[seen].sum()
    assert abs(mle - lam) < 4 * lam / math.sqrt(events)
    assert (time[seen] >= 0).all() and (time[seen] <= 52).all()


def test_logrank_power_near_schoenfeld_and_size_near_alpha():
    s = scenario(TTL).base
    sims = 3000
    r = VectorizedEngine().evaluate(s, "base", 200, sims, s.seed)
    # expected number of losses per arm among the 100 randomised, by simulation of the arms
    values = point_values(s)
    events = 0.0
    for arm in ("msc", "control"):
        out = simulate_arm(np.random.default_rng(9), 400, 100, values[arm], s.endpoint)
        events += out.loss_event.sum() / 400
    approx = exponential_logrank_power(0.04, 0.08, events, 0.05, "two")
    # Schoenfeld is an approximation: allow 0.04 plus 4 Monte Carlo SE
    either = r.extra["power_any_direction"]  # Schoenfeld's two-sided power counts both tails
    assert abs(either - approx) < 0.04 + 4 * math.sqrt(approx * (1 - approx) / sims)
    assert r.type1_error <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)
    assert r.power > 0.9 * r.extra["power_any_direction"]


def test_exact_engine_refuses_logrank():
    s = scenario(TTL).base
    with pytest.raises(EngineError, match="logrank"):
        ExactEngine().evaluate(s, "base", 200, 10, s.seed)
