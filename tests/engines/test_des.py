"""The discrete-event engine beyond the shared suite (``test_suite.py`` runs it against the
closed forms): operations, calendar time, event counts, re-dosing, streams and the event log.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import numpy as np
import pytest
import yaml

from simtrial.cli.main import main
from simtrial.engines import default_engine
from simtrial.engines.base import POWER, TYPE1, point_values
from simtrial.engines.des import (
    DESEngine,
    iter_trials,
    simulate_trial,
    trial_params,
    trial_seeds,
)
from simtrial.engines.exact import ExactEngine
from simtrial.engines.vectorized import VectorizedEngine, simulate_arm
from simtrial.errors import EngineError
from simtrial.scenario.schema import deep_merge
from tests.engines.test_redosing import REDOSE, one_patient
from tests.engines.test_suite import REFERENCE, compare_with_closed_form
from tests.helpers import BASE, scenario

SEED = 12345
# One site with one slot a week (or one dose a week) and three MSC patients arriving within
# minutes of each other, each due one infusion at week 0, followed up for 1.5 weeks.
QUEUE = {
    "enrolment": {"rate_per_week": 1000.0},
    "endpoint": {"week": 1.5},
    "arms": {
        "control": {"dropout": None},
        "msc": {"schedule": {"infusion_weeks": [0]}, "dropout": None},
    },
    "evaluate": {"n_total": [6]},
}


def trace_of(s, n_total, trials=1, variant="base"):
    return DESEngine().trace(s, variant, n_total, trials, s.seed)


def test_ample_capacity_gives_identical_results():
    """Operations draw from their own stream: ample capacity moves no patient-journey draw."""
    plain = scenario().base
    ample = scenario(
        {"operations": {"sites": 3, "infusion_slots_per_week": 50, "doses_per_week": 500}}
    ).base
    a = DESEngine().evaluate(plain, "base", 40, 150, SEED)
    b = DESEngine().evaluate(ample, "base", 40, 150, SEED)
    assert a.to_dict() == b.to_dict()
    assert b.extra["mean_infusion_delay_weeks"] == {"msc": 0.0}
    assert b.extra["infusions_missed_before_endpoint"] == {"msc": 0.0}


@pytest.mark.parametrize(
    "limit", [{"infusion_slots_per_week": 1}, {"doses_per_week": 1.5}], ids=["slots", "doses"]
)
def test_scarce_capacity_lowers_response_and_shows_delays(limit):
    """Endpoint at week 12, last induction due at week 10: an infusion more than 2 weeks late
    no longer counts. Demand: 1 MSC patient a week x 3 infusions, over 2 sites."""
    sims = 200
    ample = scenario({"operations": {"sites": 2}}).base
    scarce = scenario({"operations": {"sites": 2, **limit}}).base
    a = DESEngine().evaluate(ample, "base", 40, sims, SEED)
    b = DESEngine().evaluate(scarce, "base", 40, sims, SEED)
    p = a.endpoint_probability["msc"]
    se = math.sqrt(2 * p * (1 - p) / (sims * 20))
    assert b.endpoint_probability["msc"] < p - 4 * se
    assert b.extra["mean_infusion_delay_weeks"]["msc"] > 0.5
    assert 0 < b.extra["infusions_delayed_fraction"]["msc"] <= 1
    assert b.extra["infusions_missed_before_endpoint"]["msc"] > 0
    assert b.infusions_per_patient["msc"] < a.infusions_per_patient["msc"]
    assert b.power < a.power
    # the endpoint visit does not move: the trial lasts as long
    assert b.expected_duration_weeks == a.expected_duration_weeks


def test_null_holds_exactly_under_a_dose_shortage():
    """Type I error: the treatment arm takes the control's whole model, operations included
    (sham infusions take no cell dose), so a dose shortage cannot make it differ. A strong,
    timing-dependent sham response makes a wrong null (delayed shams in the treatment arm only)
    reject about half the time."""
    sham = {"induction": 0.5, "loss_per_week": 0.02, "onset_weeks": 2}
    s = scenario(
        deep_merge(
            REFERENCE["placebo_with_sham_infusions"],
            {
                "arms": {"control": {"response": sham}},
                "operations": {"sites": 2, "doses_per_week": 1},
            },
        )
    ).base
    null = trial_params(s, TYPE1, None)
    assert null["msc"] == null["control"] and not null["msc"].uses_dose
    assert trial_params(s, POWER, None)["msc"].uses_dose
    sims = 300
    r = DESEngine().evaluate(s, "base", 40, sims, SEED)
    assert r.type1_error <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)
    assert r.extra["mean_infusion_delay_weeks"]["msc"] > 1  # the shortage is real


def test_expected_duration_matches_poisson_accrual():
    """First randomisation to last endpoint visit: Gamma(n − 1, rate) + W, mean (n − 1)/r + W."""
    s = scenario().base
    r = DESEngine().evaluate(s, "base", 40, 200, SEED)
    expected = 39 / 2.0 + 12
    se = math.sqrt(39) / 2.0 / math.sqrt(200)  # sd of Gamma(39, 2) over 200 trials
    assert r.expected_duration_weeks == pytest.approx(expected, abs=4 * se)
    assert r.extra["expected_duration_weeks_se"] == pytest.approx(se, rel=0.25)


def test_event_counts_of_a_tiny_trial():
    """SimPy-benchmark style: the exact number of events of a tiny seeded trial.

    2 control + 2 MSC patients, no dropout, MSC at weeks 0, 4, 8. SimPy events scheduled:
    accrual start and end (2); one arrival timeout per patient (4); each patient process's
    start and end (8); MSC patients wait to weeks 4, 8 and the endpoint (2 × 3), control
    patients to the endpoint (2 × 1); the last exit triggers the run's ``until`` event, which
    SimPy schedules once more as it stops (2): 24.
    """
    s = scenario(
        {
            "arms": {"control": {"dropout": None}, "msc": {"dropout": None}},
            "evaluate": {"n_total": [4]},
        }
    ).base
    rows: list = []
    out = simulate_trial(s, 4, np.random.SeedSequence(2024), POWER, rows)
    assert out.events == 24
    events = [r[4] for r in rows]
    assert events.count("randomised") == 4
    assert events.count("infusion") == 6 == out.arms["msc"].infusions
    assert events.count("endpoint") == 4
    assert "dropout" not in events and "visit" not in events
    assert events.count("adverse_event") == out.arms["msc"].adverse_events
    assert events.count("response") >= out.arms["msc"].successes

    # re-dosing (REDOSE: MSC at weeks 0 and 6, visits every 4 weeks to the endpoint at week 40,
    # extra infusion 1 week after a loss is seen): MSC patients now wait to week 6 and to the
    # 10 visits (the last is at the endpoint week: no further wait), and once per extra
    # infusion, so 16 + 2 × 11 + 2 + extras = 40 + extras
    redose = scenario(
        deep_merge(
            REDOSE,
            {
                "arms": {"control": {"dropout": None}, "msc": {"dropout": None}},
                "evaluate": {"n_total": [4]},
            },
        )
    ).base
    rows = []
    out = simulate_trial(redose, 4, np.random.SeedSequence(2024), POWER, rows)
    events = [r[4] for r in rows]
    assert events.count("visit") == 2 * 10  # visits every 4 weeks to week 40
    extras = sum("kind=extra" in r[5] for r in rows if r[4] == "infusion")
    assert events.count("infusion") == 4 + extras == out.arms["msc"].infusions
    assert extras == events.count("redose_decided") <= 2 * 2
    assert out.events == 40 + extras
    assert extras == 3  # this seed (permuted-block randomisation); a change of behaviour changes it


@pytest.mark.parametrize(
    "limit", [{"infusion_slots_per_week": 1}, {"doses_per_week": 1}], ids=["slots", "doses"]
)
def test_capacity_queue_is_first_come_first_served(limit):
    """One slot (or dose) at week 0 and one more each week: the 2nd MSC patient is infused at
    week 1, the 3rd would be at week 2, after its endpoint visit (week 1.5): missed."""
    s = scenario(deep_merge(QUEUE, {"operations": {"sites": 1, **limit}})).base
    rows = trace_of(s, 6)
    arrival = {r[1]: r[3] for r in rows if r[4] == "randomised" and r[2] == "msc"}
    infused = {r[1]: r[3] for r in rows if r[4] == "infusion"}
    missed = [r[1] for r in rows if r[4] == "infusion_missed"]
    first, second, third = sorted(arrival, key=arrival.get)
    assert infused == {first: arrival[first], second: 1.0}
    assert missed == [third]
    assert max(arrival.values()) < 0.05
    r = DESEngine().evaluate(s, "base", 6, 1, s.seed)
    assert r.infusions_per_patient["msc"] == pytest.approx(2 / 3)
    assert r.extra["infusions_missed_before_endpoint"]["msc"] == pytest.approx(1 / 3)
    assert r.extra["infusions_delayed_fraction"]["msc"] == pytest.approx(1 / 2)
    assert r.extra["mean_infusion_delay_weeks"]["msc"] == pytest.approx((1 - arrival[second]) / 2)


def test_redosing_agrees_with_vectorized():
    """Re-dosing on loss has no closed form: DES and vectorized engines agree within 4 SE."""
    s = scenario(REDOSE).base
    trials = 300
    outs = list(iter_trials(s, "base", 40, SEED, trials))
    des_resp = sum(o.arms["msc"].successes for o in outs) / (trials * 20)
    des_inf = sum(o.arms["msc"].infusions for o in outs) / (trials * 20)
    vec = simulate_arm(np.random.default_rng(7), 2000, 20, point_values(s)["msc"], s.endpoint)
    vec_resp = vec.successes.sum() / 40000
    vec_inf = vec.infusions.sum() / 40000
    se = math.sqrt(vec_resp * (1 - vec_resp) * (1 / (trials * 20) + 1 / 40000))
    assert abs(des_resp - vec_resp) < 4 * se, (des_resp, vec_resp, se)
    se_inf = 1.0 * math.sqrt(1 / (trials * 20) + 1 / 40000)  # infusions per patient in [2, 4]
    assert abs(des_inf - vec_inf) < 4 * se_inf, (des_inf, vec_inf, se_inf)
    assert des_inf > 2.2  # re-dosing happened


def test_immediate_redosing_matches_event_simulation():
    """Re-dosing with no delay and no onset: the extra infusion is given and induces at the
    visit itself. Checked against the independent patient-by-patient simulation of
    ``test_redosing.py`` (the vectorized engine's timeline drops that induction: its extra
    induction sorts before the visit that schedules it)."""
    changes = {
        "arms": {
            "msc": {
                "schedule": {"redose_on_loss": {"delay_weeks": 0}},
                "response": {"onset_weeks": 0},
            }
        }
    }
    s = scenario(deep_merge(REDOSE, changes)).base
    redose = s.arms["msc"].schedule.redose_on_loss.model_dump()
    delta = point_values(s)["msc"].dropout_hazard
    rng = np.random.default_rng(11)
    n_ref = 10000
    ref = [one_patient(rng, [0, 6], 0.6, 0.06, 0.9, 0, delta, 40, redose) for _ in range(n_ref)]
    ref_resp = np.mean([r for r, _ in ref])
    trials = 250
    outs = list(iter_trials(s, "base", 40, SEED, trials))
    des_resp = sum(o.arms["msc"].successes for o in outs) / (trials * 20)
    se = math.sqrt(ref_resp * (1 - ref_resp) * (1 / n_ref + 1 / (trials * 20)))
    assert abs(des_resp - ref_resp) < 4 * se, (des_resp, ref_resp, se)


def test_visit_window_jitters_assessment_visits():
    s = scenario(deep_merge(REDOSE, {"operations": {"visit_window_weeks": 2}})).base
    rows = trace_of(s, 10)
    start = {r[1]: r[3] for r in rows if r[4] == "randomised"}
    offsets = np.array([r[3] - start[r[1]] for r in rows if r[4] == "visit"])
    nominal = np.round(offsets / 4) * 4
    assert np.all(np.abs(offsets - nominal) <= 1 + 1e-9)
    assert np.abs(offsets - nominal).max() > 0.5
    assert offsets.max() <= 40


def test_assurance_agrees_with_exact_engine():
    s = scenario({"arms": {"msc": {"response": {"induction": {"beta": [4, 6]}}}}}).base
    des = DESEngine().evaluate(s, "base", 40, 300, SEED)
    exact = ExactEngine().evaluate(s, "base", 40, 2000, SEED)
    se = math.sqrt(des.assurance_se**2 + exact.assurance_se**2)
    assert abs(des.assurance - exact.assurance) < 4 * se
    assert des.assurance != des.power


def test_results_do_not_depend_on_task_order():
    s = scenario().base
    engine = DESEngine(trials_per_block=20)
    tasks = engine.tasks(s, 60)
    outputs = [engine.run_task(s, "base", 40, t, SEED) for t in tasks]
    random.Random(3).shuffle(outputs)
    assert engine.combine(s, 40, 60, outputs) == engine.evaluate(s, "base", 40, 60, SEED)
    # a trial's stream depends on its block and index only
    few = [q.generate_state(2) for q in trial_seeds(SEED, "base", 40, POWER, 1, 3)]
    many = [q.generate_state(2) for q in trial_seeds(SEED, "base", 40, POWER, 1, 8)]
    assert all(np.array_equal(a, b) for a, b in zip(few, many[:3], strict=True))


def test_operations_refused_by_the_other_engines():
    sset = scenario({"operations": {"sites": 2, "doses_per_week": 3}})
    for engine in (ExactEngine(), VectorizedEngine()):
        with pytest.raises(EngineError, match=r"operations .*--engine des"):
            engine.check(sset.base)
    assert default_engine(sset) == "des"
    DESEngine().check(sset.base)
    no_accrual = scenario({"enrolment": None, "operations": {"sites": 2}}).base
    with pytest.raises(EngineError, match="enrolment"):
        DESEngine().check(no_accrual)


class NoOnsetDES(DESEngine):
    """A wrong model: ignores the onset delay."""

    def run_task(self, s, variant, n_total, task, seed):
        arms = {}
        for name, arm in s.arms.items():
            if arm.response is not None:
                response = arm.response.model_copy(update={"onset_weeks": 0.0})
                arm = arm.model_copy(update={"response": response})
            arms[name] = arm
        return super().run_task(s.model_copy(update={"arms": arms}), variant, n_total, task, seed)


def test_wrong_des_model_fails_the_suite_check():
    """The suite's DES trial count (1000) is enough to catch a wrong model."""
    s = scenario(REFERENCE["durable_nri"]).base
    failures = compare_with_closed_form(NoOnsetDES(), s, simulations=1000)
    assert any(f.what.startswith("P(endpoint) msc") for f in failures)


def write_scenario(tmp_path: Path, changes: dict) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(deep_merge(BASE, changes), sort_keys=False))
    return path


def test_trace_writes_events_csv(tmp_path):
    path = write_scenario(tmp_path, {"operations": {"sites": 2, "infusion_slots_per_week": 2}})
    out = tmp_path / "out"
    args = ["run", str(path), "--trace", "2", "--simulations", "20", "--out", str(out), "-q"]
    assert main(args) == 0  # des by default: the scenario has operations
    with open(out / "events.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:6] == ["trial", "patient", "arm", "time", "event", "details"]
    assert {r["trial"] for r in rows} == {"0", "1"}
    assert sum(r["event"] == "randomised" for r in rows) == 2 * 40
    assert sum(r["event"] in ("endpoint", "dropout") for r in rows) == 2 * 40
    # the traced trials are the first trials of the run
    s = scenario({"operations": {"sites": 2, "infusion_slots_per_week": 2}}).base
    first = next(iter_trials(s, "base", 40, s.seed, 1))
    given = [r for r in rows if r["trial"] == "0" and r["event"] == "infusion"]
    assert len(given) == first.arms["msc"].infusions
    times = [float(r["time"]) for r in rows if r["trial"] == "0"]
    assert times == sorted(times)
    summary = (out / "summary.json").read_text()
    assert '"engine": "des"' in summary and "mean_infusion_delay_weeks" in summary


def test_trace_needs_the_des_engine(tmp_path, capsys):
    path = write_scenario(tmp_path, {})
    code = main(["run", str(path), "--engine", "vectorized", "--trace", "1", "-q"])
    assert code == 2
    assert "--trace needs the des engine" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["non_responder", "exclude"])
def test_arm_totals_follow_the_vocabulary(missing):
    """Each trial's per-arm :class:`ArmTotals` against the event log of the same trials (an
    independent count, patient by patient), in the words of :mod:`simtrial.engines.base`:
    ``randomised`` = "randomised" events, ``dropouts`` = "dropout" events, ``in_study`` =
    "endpoint" events, ``successes`` = endpoints with success, ``analysed`` = every randomised
    patient under NRI and those in the study under ``exclude``."""
    changes = {"endpoint": {"missing": missing}, "arms": {"msc": {"dropout": {"per_year": 0.9}}}}
    s = scenario(changes).base
    trials = 4
    rows = trace_of(s, 40, trials)
    outcomes = list(iter_trials(s, "base", 40, s.seed, trials))
    dropped = 0
    for i, out in enumerate(outcomes):
        for arm, t in out.arms.items():
            mine = [r for r in rows if r[0] == i and r[2] == arm]

            def count(event: str, mine: list = mine) -> int:
                return sum(r[4] == event for r in mine)

            in_study = count("endpoint")
            assert t.randomised == count("randomised") == len(out.patients[arm]["in_study"])
            assert t.dropouts == count("dropout") == t.randomised - in_study
            assert int(out.patients[arm]["in_study"].sum()) == in_study
            assert t.successes == sum(r[4] == "endpoint" and r[5] == "success=1" for r in mine)
            assert t.analysed == (t.randomised if missing == "non_responder" else in_study)
            dropped += int(t.dropouts)
    assert dropped > 0  # P(dropout by week 12) ≈ 0.41 in the MSC arm: the two rules differ
