"""Re-dosing on loss has no closed form: the vectorized engine is checked against an
independent, patient-by-patient event simulation written plainly in Python here.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest

from simtrial.engines.base import point_values
from simtrial.engines.vectorized import simulate_arm
from simtrial.scenario.schema import deep_merge
from tests.helpers import scenario

REDOSE = {
    "endpoint": {"week": 40},
    "arms": {
        "msc": {
            "schedule": {
                "infusion_weeks": [0, 6],
                "redose_on_loss": {"max": 2, "assess_every_weeks": 4, "delay_weeks": 1},
            },
            "response": {"induction": 0.6, "loss_per_week": 0.06, "ceiling": 0.9, "onset_weeks": 2},
        }
    },
}


def one_patient(rng, weeks, q, lam, c, onset, delta, end, redose):
    """One patient's journey as a heap of events; returns (responding at end, infusions)."""
    potential = rng.random() < c
    dropout = rng.exponential(1 / delta) if delta > 0 else math.inf
    events = []  # (time, order, kind)
    for s in weeks:
        if s <= end and s < dropout:
            heapq.heappush(events, (s, 0, "infusion"))
    if redose:
        j = 1
        while j * redose["assess_every_weeks"] <= end:
            heapq.heappush(events, (j * redose["assess_every_weeks"], 2, "visit"))
            j += 1
    responding_until = -math.inf
    infusions = extras = 0
    last_handled = -math.inf
    pending = False
    while events:
        t, _, kind = heapq.heappop(events)
        if kind == "infusion":
            infusions += 1
            if t + onset <= end:
                heapq.heappush(events, (t + onset, 1, "induction"))
        elif kind == "extra":
            infusions += 1
            if t + onset <= end:
                heapq.heappush(events, (t + onset, 1, "extra_induction"))
            else:
                pending = False
        elif kind in ("induction", "extra_induction"):
            if kind == "extra_induction":
                pending = False
            if potential and responding_until <= t and rng.random() < q:
                responding_until = t + (rng.exponential(1 / lam) if lam > 0 else math.inf)
        elif kind == "visit":
            lost = (
                -math.inf < responding_until <= t
                and responding_until > last_handled
                and dropout > t
                and extras < redose["max"]
                and not pending
            )
            if lost:
                last_handled = responding_until
                extras += 1
                when = t + redose["delay_weeks"]
                if when <= end and when < dropout:
                    pending = True
                    heapq.heappush(events, (when, 0, "extra"))
    in_study = dropout > end
    return in_study and responding_until > end, infusions


@pytest.mark.parametrize(
    "max_extra,delay,onset", [(1, 1, 2), (2, 1, 2), (2, 0, 0)], ids=["max1", "max2", "no-delay"]
)
def test_redosing_matches_event_simulation(max_extra, delay, onset):
    s = scenario(
        deep_merge(
            REDOSE,
            {
                "arms": {
                    "msc": {
                        "schedule": {"redose_on_loss": {"max": max_extra, "delay_weeks": delay}},
                        "response": {"onset_weeks": onset},
                    }
                }
            },
        )
    ).base
    values = point_values(s)["msc"]
    redose = s.arms["msc"].schedule.redose_on_loss.model_dump()
    rng = np.random.default_rng(2024)
    n_ref = 20000
    ref = [
        one_patient(rng, [0, 6], 0.6, 0.06, 0.9, onset, values.dropout_hazard, 40, redose)
        for _ in range(n_ref)
    ]
    ref_resp = np.mean([r for r, _ in ref])
    ref_inf = np.array([i for _, i in ref], dtype=float)

    trials, n = 200, 100
    out = simulate_arm(np.random.default_rng(7), trials, n, values, s.endpoint)
    sim_resp = out.successes.sum() / (trials * n)
    sim_inf = out.infusions.sum() / (trials * n)

    se_resp = math.sqrt(ref_resp * (1 - ref_resp) * (1 / n_ref + 1 / (trials * n)))
    assert abs(sim_resp - ref_resp) < 4 * se_resp, (sim_resp, ref_resp, se_resp)
    se_inf = ref_inf.std() * math.sqrt(1 / n_ref + 1 / (trials * n))
    assert abs(sim_inf - ref_inf.mean()) < 4 * se_inf, (sim_inf, ref_inf.mean(), se_inf)
    # re-dosing must matter here, or the check would be empty
    plain = scenario(
        deep_merge(
            REDOSE,
            {
                "arms": {
                    "msc": {
                        "schedule": {"redose_on_loss": None},
                        "response": {"onset_weeks": onset},
                    }
                }
            },
        )
    )
    no_redose = simulate_arm(
        np.random.default_rng(7), trials, n, point_values(plain.base)["msc"], s.endpoint
    )
    assert sim_resp - no_redose.successes.sum() / (trials * n) > 8 * se_resp
    assert ref_inf.max() <= 2 + max_extra
