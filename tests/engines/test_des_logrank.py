"""The log-rank test (``time_to_loss`` endpoint) in the discrete-event engine.

References: the vectorized engine (an independent simulation of the same model: power and type
I error within 4 combined Monte Carlo SE), the DES event log of the same trials (``loss_time``
and ``loss_event`` recomputed patient by patient from the response, dropout and endpoint
events), and the exponential maximum-likelihood estimate of the loss hazard (events divided by
time at risk; SE λ/√events).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from simtrial.engines.des import DESEngine, iter_trials
from simtrial.engines.vectorized import VectorizedEngine
from simtrial.scenario.schema import deep_merge
from tests.engines.test_time_to_loss import TTL
from tests.helpers import scenario

N_TOTAL = 80  # vectorized power about 0.65: both tails of the comparison can fail
DES_TRIALS = 300
VEC_TRIALS = 4000
AMPLE = {"operations": {"sites": 2, "infusion_slots_per_week": 50, "doses_per_week": 500}}


def _se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / n)


@pytest.fixture(scope="module")
def runs():
    s = scenario(TTL).base
    des = DESEngine().evaluate(s, "base", N_TOTAL, DES_TRIALS, s.seed)
    vec = VectorizedEngine().evaluate(s, "base", N_TOTAL, VEC_TRIALS, s.seed)
    return s, des, vec


def test_des_runs_logrank_and_agrees_with_vectorized(runs):
    _, des, vec = runs
    for what in ("power", "type1_error"):
        d, v = getattr(des, what), getattr(vec, what)
        se = math.sqrt(_se(d, DES_TRIALS) ** 2 + _se(v, VEC_TRIALS) ** 2)
        assert abs(d - v) < 4 * se, (what, d, v, se)
    assert 0.3 < des.power < 0.95  # informative: neither near 0 nor near 1
    # the share of patients with a first response seen (every randomised patient analysed)
    for arm, p in vec.endpoint_probability.items():
        se = math.sqrt(_se(p, VEC_TRIALS * 40) ** 2 + _se(p, DES_TRIALS * 40) ** 2)
        assert abs(des.endpoint_probability[arm] - p) < 4 * se


def test_ample_capacity_gives_identical_logrank_results(runs):
    """Operations with ample capacity move no journey draw: the same trials, the same test."""
    s, des, _ = runs
    ample = scenario(deep_merge(TTL, AMPLE)).base
    again = DESEngine().evaluate(ample, "base", N_TOTAL, DES_TRIALS, s.seed)
    assert again.power == des.power and again.type1_error == des.type1_error


@pytest.mark.parametrize("arm,lam", [("control", 0.08), ("msc", 0.04)])
def test_des_loss_hazard_recovered_by_exponential_mle(arm, lam):
    s = scenario(TTL).base
    time, event = [], []
    for trial in iter_trials(s, "base", 200, s.seed, 30):
        time.append(trial.patients[arm]["loss_time"])
        event.append(trial.patients[arm]["loss_event"])
    t, e = np.concatenate(time), np.concatenate(event)
    seen = ~np.isnan(t)
    events = e[seen].sum()
    assert abs(events / t[seen].sum() - lam) < 4 * lam / math.sqrt(events)
    assert (t[seen] >= 0).all() and (t[seen] <= 52).all() and not e[~seen].any()


# Re-dosing (so some patients respond a second time: only the first response counts), dropout
# frequent enough to censor many responses, and scarce slots so infusions wait.
TRACED = deep_merge(
    TTL,
    {
        "operations": {"sites": 2, "infusion_slots_per_week": 1},
        "arms": {
            "control": {"dropout": {"per_year": 0.6}},
            "msc": {
                "schedule": {
                    "infusion_weeks": [0, 6],
                    "redose_on_loss": {"max": 2, "assess_every_weeks": 4, "delay_weeks": 1},
                },
                "dropout": {"per_year": 0.6},
            },
        },
    },
)


def _from_event_log(rows, end_week):
    """Per (trial, patient): (arm, loss_time, loss_event, how the patient left) from the event
    log alone: the first response before leaving, to its end or to leaving."""
    log = defaultdict(list)
    for trial, patient, arm, week, event, details in rows:
        if patient != "":
            log[trial, patient].append((week, event, details, arm))
    out = {}
    for key, events in log.items():
        arm = events[0][3]
        randomised = next(w for w, e, _, _ in events if e == "randomised")
        left, how = next((w, e) for w, e, _, _ in events if e in ("dropout", "endpoint"))
        if how == "endpoint":
            assert left == pytest.approx(randomised + end_week)
        responses = sorted(
            (w, float(d.split("=")[1])) for w, e, d, _ in events if e == "response" and w < left
        )
        if not responses:
            out[key] = (arm, math.nan, False, how)
            continue
        start, until = responses[0]
        out[key] = (arm, min(until, left) - start, until <= left, how)
    return out


def test_loss_data_matches_the_event_log():
    s = scenario(TRACED).base
    trials = 4
    rows = DESEngine().trace(s, "base", N_TOTAL, trials, s.seed)
    expected = _from_event_log(rows, s.endpoint.end_week)
    kinds = defaultdict(int)
    for i, trial in enumerate(iter_trials(s, "base", N_TOTAL, s.seed, trials)):
        order = defaultdict(list)  # patients of each arm in randomisation order
        for (t, patient), (arm, *_) in sorted(expected.items(), key=lambda kv: kv[0][1]):
            if t == i:
                order[arm].append(patient)
        for arm, patients in order.items():
            time = trial.patients[arm]["loss_time"]
            event = trial.patients[arm]["loss_event"]
            assert len(time) == len(patients)
            for j, patient in enumerate(patients):
                _, want_time, want_event, how = expected[i, patient]
                if math.isnan(want_time):
                    assert math.isnan(time[j]) and not event[j]
                    kinds["never"] += 1
                else:
                    # the log gives "until" to 4 decimals
                    assert time[j] == pytest.approx(want_time, abs=1e-3)
                    assert bool(event[j]) == want_event
                    kinds["event" if want_event else f"censored at {how}"] += 1
    # every case occurs, so each comparison could fail
    cases = ("never", "event", "censored at dropout", "censored at endpoint")
    assert min(kinds[c] for c in cases) > 5, dict(kinds)
