"""`simtrial run`: summary.json as DESIGN §5, atomic outputs, reproducibility."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from simtrial.cli.main import main
from simtrial.engines.vectorized import VectorizedEngine, combine
from tests.helpers import scenario

ROOT = Path(__file__).resolve().parents[1]

POINT_KEYS = {
    "n_total",
    "n_per_arm",
    "power",
    "power_se",
    "type1_error",
    "type1_error_se",
    "assurance",
    "assurance_se",
    "endpoint_probability",
    "infusions_per_patient",
    "adverse_events_per_patient",
    "dropout_fraction",
    "stopped_early",
    "expected_n",
    "expected_duration_weeks",
}


def run_cli(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(ROOT / "scenarios" / "ra-phase2.yaml"),
            "--out",
            str(out),
            "-q",
            "--simulations",
            "1200",
            *args,
        ]
    )
    assert code == 0
    return json.loads((out / "summary.json").read_text())


@pytest.mark.parametrize("engine", ["exact", "vectorized"])
def test_summary_json_contract(tmp_path, engine):
    summary = run_cli(tmp_path, "--engine", engine)
    assert summary["scenario"] == "ra-phase2"
    assert summary["seed"] == 20261121
    assert summary["simulations"] == 1200
    assert summary["engine"] == engine
    assert list(summary["variants"]) == ["monthly_x3", "monthly_x6"]
    for variant in summary["variants"].values():
        assert "boundaries" in variant
        points = variant["points"]
        assert [p["n_total"] for p in points] == [24, 40, 60, 80]
        for p in points:
            assert POINT_KEYS <= set(p)
            assert p["n_per_arm"] == {"placebo": p["n_total"] // 2, "msc": p["n_total"] // 2}
            assert 0 <= p["type1_error"] <= p["power"] <= 1
            if engine == "exact":
                assert p["power_se"] == 0 and p["type1_error_se"] == 0
            else:
                assert p["power_se"] > 0 or p["power"] in (0.0, 1.0)
    csv_lines = (tmp_path / "out" / "points.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + 8
    assert csv_lines[0].startswith("variant,n_total,n_per_arm.placebo")


def test_same_seed_identical_summary(tmp_path):
    a = run_cli(tmp_path / "a")
    b = run_cli(tmp_path / "b")
    assert a == b
    c = run_cli(tmp_path / "c", "--seed", "7")
    assert c != a


def test_work_split_any_way_gives_identical_results():
    """Blocks run in any order and any grouping (chunks/workers) combine to the same point."""
    s = scenario({"simulations": 2500}).base
    engine = VectorizedEngine()
    whole = engine.evaluate(s, "base", 40, 2500, s.seed)
    tasks = engine.tasks(s, 2500)
    assert len(tasks) == 2 * 3  # power + type I, 3 blocks of <= 1000 trials
    shuffled = tasks[:]
    random.Random(3).shuffle(shuffled)
    # two "workers", each with its own engine instance, taking alternate tasks
    outputs = [VectorizedEngine().run_task(s, "base", 40, t, s.seed) for t in shuffled[::2]]
    outputs += [VectorizedEngine().run_task(s, "base", 40, t, s.seed) for t in shuffled[1::2]]
    assert combine(s, 40, 2500, outputs).to_dict() == whole.to_dict()


def test_streams_depend_on_variant_point_and_block():
    s = scenario().base
    e = VectorizedEngine()
    r1 = e.run_block(s, "a", 40, 0, 0, 300, s.seed)[0].rejected
    r2 = e.run_block(s, "a", 40, 0, 0, 300, s.seed)[0].rejected
    r3 = e.run_block(s, "b", 40, 0, 0, 300, s.seed)[0].rejected
    r4 = e.run_block(s, "a", 40, 0, 1, 300, s.seed)[0].rejected
    assert (r1 == r2).all()
    assert not (r1 == r3).all() and not (r1 == r4).all()


def test_failed_run_leaves_previous_output_intact(tmp_path, monkeypatch):
    run_cli(tmp_path)
    before = (tmp_path / "out" / "summary.json").read_text()

    import simtrial.report.table as report

    def boom(result):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "points_csv", boom)
    code = main(
        [
            "run",
            str(ROOT / "scenarios" / "ra-phase2.yaml"),
            "--out",
            str(tmp_path / "out"),
            "-q",
            "--simulations",
            "300",
        ]
    )
    assert code == 130
    assert (tmp_path / "out" / "summary.json").read_text() == before
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_python_api(tmp_path):
    import simtrial

    scenarios = simtrial.load_scenario(ROOT / "scenarios" / "jia-redosing.yaml")
    result = simtrial.run(scenarios, simulations=300)
    frame = result.to_frame()
    assert list(frame["variant"]) == ["single_infusion"] * 4 + ["redose_on_loss"] * 4
    powers = [p.power for v in result.variants.values() for p in v.points]
    assert frame["power"].tolist() == pytest.approx(powers, abs=1e-6)
    text = simtrial.summary_text(result)
    assert "single_infusion" in text and "redose_on_loss" in text and "power" in text
    fig = simtrial.power_curve(result)
    assert fig.axes and simtrial.response_over_time(scenarios).axes


def test_progress_total_counts_every_simulated_trial():
    """The progress bar's total is the number of trials the run simulates (the first review
    saw 1 800 announced for 10 000 run): exact without a search, an estimate with one."""
    from simtrial.planning.power import run, total_work
    from tests.helpers import scenario

    s = scenario(
        {
            "arms": {"msc": {"response": {"induction": {"beta": [4, 6]}}}},
            "safety": {"max_serious_rate_per_year": 0.3, "posterior_probability": 0.9},
            "evaluate": {"n_total": [20, 40]},
        }
    )
    done: list[int] = []
    run(s, engine="vectorized", simulations=300, progress=done.append)
    # power, type I, assurance, safe and unsafe rates: 5 purposes x 2 points x 300 trials
    assert sum(done) == total_work(s, "vectorized", 300) == 5 * 2 * 300
    searched = scenario({"evaluate": {"sample_size": {"goal": 0.6, "max_total": 200}}})
    done.clear()
    run(searched, engine="vectorized", simulations=300, progress=done.append)
    estimate = total_work(searched, "vectorized", 300)
    assert 0.75 * sum(done) <= estimate <= 1.25 * sum(done)


def test_run_estimate_counts_every_simulated_patient_journey():
    """estimate.estimate_run's work (patient journeys) is the trials the run reports, times the
    patients per trial, safety-rate runs included (they were once left out)."""
    from simtrial.planning.estimate import estimate_run
    from simtrial.planning.power import run
    from tests.helpers import scenario

    s = scenario(
        {
            "arms": {"msc": {"response": {"induction": {"beta": [4, 6]}}}},
            "safety": {"max_serious_rate_per_year": 0.3, "posterior_probability": 0.9},
            "evaluate": {"n_total": [40]},
        }
    )
    done: list[int] = []
    run(s, engine="vectorized", simulations=200, progress=done.append)
    assert estimate_run(s, "vectorized", 200).work == sum(done) * 40


def test_progress_and_run_estimate_count_a_search_at_its_target_only():
    """A search's points simulate one purpose (power), not the 5 of a full point: the progress
    total and the run estimate count it so (they once counted 5)."""
    from simtrial.planning.estimate import estimate_run, search_evaluations
    from simtrial.planning.power import run, total_work
    from tests.helpers import scenario

    s = scenario(
        {
            "arms": {"msc": {"response": {"induction": {"beta": [8, 6]}}}},
            "safety": {"max_serious_rate_per_year": 0.3, "posterior_probability": 0.9},
            "evaluate": {"n_total": [40], "sample_size": {"goal": 0.5, "max_total": 120}},
        }
    )
    done: list[int] = []
    result = run(s, engine="vectorized", simulations=200, progress=done.append)
    searched = len(result.variants["base"].sample_size["curve"]) + 1  # + the re-estimate
    assert sum(done) == 5 * 200 + searched * 200
    evaluations = search_evaluations(s.base, "vectorized")  # an upper bound of the search
    assert searched <= evaluations <= searched + 2
    assert total_work(s, "vectorized", 200) == 5 * 200 + evaluations * 200
    # patient journeys: the point at 40, and every search point counted at max_total 120
    assert estimate_run(s, "vectorized", 200).work == 5 * 200 * 40 + evaluations * 200 * 120
