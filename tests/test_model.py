"""The closed form π(t) against an independent computation, and the endpoint laws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simtrial.engines.base import point_values
from simtrial.model.response import endpoint_law, expected_burden, response_probability
from tests.helpers import scenario


def pi_by_enumeration(t, weeks, q, lam, onset):
    """P(responding at t) from the distribution of the current episode's start time.

    Independent of the recursion (which collapses the history into one number using the
    memorylessness of the exponential): here the state is the start time of the current response
    episode (or None), every history is kept, and survival is computed from the start time.
    """
    e = [s + onset for s in weeks if s + onset <= t]
    states = {None: 1.0}  # start of current episode -> P(that episode, still responding now)
    now = 0.0
    for ek in e:
        new: dict = {}
        for start, p in states.items():
            if start is not None:
                alive = np.exp(-lam * (ek - now))  # survives the interval (now, ek]
                new[start] = new.get(start, 0.0) + p * alive  # still responding: no attempt
                p = p * (1 - alive)  # lost before ek: attempts again
            new[ek] = new.get(ek, 0.0) + p * q
            new[None] = new.get(None, 0.0) + p * (1 - q)
        states, now = new, ek
    return sum(p * np.exp(-lam * (t - now)) for start, p in states.items() if start is not None)


@settings(max_examples=60, deadline=None)
@given(
    weeks=st.lists(st.integers(0, 20), min_size=1, max_size=5, unique=True).map(sorted),
    q=st.floats(0, 1),
    lam=st.floats(0, 0.5),
    onset=st.sampled_from([0.0, 1.0, 2.5]),
    t=st.floats(0, 30),
)
def test_recursion_matches_enumeration(weeks, q, lam, onset, t):
    expected = pi_by_enumeration(t, weeks, q, lam, onset)
    assert float(response_probability(t, weeks, q, lam, onset)) == pytest.approx(
        expected, abs=1e-12
    )


def test_enumeration_can_fail():
    """The reference detects a wrong model (no decay between inductions)."""
    right = pi_by_enumeration(12, [0, 4, 8], 0.4, 0.05, 2)
    wrong = float(response_probability(12, [0, 4, 8], 0.4, 0.0, 2))
    assert abs(right - wrong) > 0.05


def test_closed_forms_by_hand():
    # one infusion, no loss: q
    assert float(response_probability(10, [0], 0.6, 0.0)) == pytest.approx(0.6)
    # three inductions without loss: 1 - (1 - q)^3
    assert float(response_probability(10, [0, 2, 4], 0.5, 0.0)) == pytest.approx(0.875)
    # induction after t does not count; induction at exactly t does
    assert float(response_probability(3.9, [0, 4], 0.5, 0.0)) == pytest.approx(0.5)
    assert float(response_probability(4.0, [0, 4], 0.5, 0.0)) == pytest.approx(0.75)
    # decay: exp(-λ t) after a single certain induction
    assert float(response_probability(10, [0], 1.0, 0.1)) == pytest.approx(np.exp(-1.0))


def test_endpoint_laws():
    s = scenario().base
    values = point_values(s)
    law = endpoint_law(values["msc"], s.endpoint)
    delta = -np.log(1 - 0.2) / 52
    pi12 = float(response_probability(12, [0, 4, 8], 0.4, 0.05, 2))
    assert float(law.success) == pytest.approx(0.9 * pi12)
    assert law.in_study == pytest.approx(np.exp(-delta * 12))
    assert float(law.nri()) == pytest.approx(0.9 * pi12 * np.exp(-delta * 12))
    durable = scenario(
        {"endpoint": {"kind": "durable_responder", "week": None, "from_week": 10, "to_week": 20}}
    ).base
    law = endpoint_law(point_values(durable)["msc"], durable.endpoint)
    pi10 = float(response_probability(10, [0, 4, 8], 0.4, 0.05, 2))
    assert float(law.success) == pytest.approx(0.9 * pi10 * np.exp(-0.05 * 10))
    assert law.in_study == pytest.approx(np.exp(-delta * 20))


def test_expected_burden():
    s = scenario().base
    b = expected_burden(point_values(s)["msc"], 12)
    delta = -np.log(1 - 0.2) / 52
    inf = 1 + np.exp(-delta * 4) + np.exp(-delta * 8)
    assert float(b["infusions_per_patient"]) == pytest.approx(inf)
    assert float(b["adverse_events_per_patient"]) == pytest.approx(0.1 * inf)
    assert float(b["serious_adverse_events_per_patient"]) == pytest.approx(
        0.5 / 52 * (1 - np.exp(-delta * 12)) / delta
    )
    assert float(b["dropout_fraction"]) == pytest.approx(1 - np.exp(-delta * 12))
