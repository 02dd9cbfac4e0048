"""Plots of a run (simtrial.report.plots): figures carry the data they claim, files are atomic."""

from __future__ import annotations

import os
import stat
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from simtrial.engines.base import point_values
from simtrial.engines.results import PointResult, RunResult, VariantResult
from simtrial.model.response import response_probability
from simtrial.report import plots
from tests.helpers import scenario

PNG = b"\x89PNG\r\n\x1a\n"


def point(n: int, power: float, assurance: float | None = None, **kw: object) -> PointResult:
    """A PointResult built by hand (arms: control, msc)."""
    se = float(np.sqrt(power * (1 - power) / 1000))
    a = power if assurance is None else assurance
    values: dict = dict(
        n_total=n,
        n_per_arm={"control": n // 2, "msc": n // 2},
        power=power,
        power_se=se,
        type1_error=0.04,
        type1_error_se=0.006,
        assurance=a,
        assurance_se=float(np.sqrt(a * (1 - a) / 1000)),
        endpoint_probability={"control": 0.3, "msc": 0.5},
        infusions_per_patient={"msc": 2.9},
        adverse_events_per_patient={"msc": 0.29},
        serious_adverse_events_per_patient={"msc": 0.1},
        dropout_fraction={"control": 0.02, "msc": 0.05},
        stopped_early={"efficacy": 0.0, "futility": 0.0, "safety": 0.0, "harm": 0.0},
        expected_n=float(n),
        expected_duration_weeks=30.0,
        simulations=1000,
        extra={"power_any_direction": power, "power_any_direction_se": se},
    )
    values.update(kw)
    return PointResult(**values)


def run_result(**variants: VariantResult) -> RunResult:
    return RunResult("test", 1, 1000, "vectorized", dict(variants), "fisher_exact", "responder")


@pytest.fixture(scope="module")
def as_set():
    """Three schedules on a durable-response endpoint (like scenarios/as-schedules.yaml)."""
    return scenario(
        {
            "endpoint": {"kind": "durable_responder", "week": None, "from_week": 16, "to_week": 24},
            "variants": {
                "weekly_x4": {"arms": {"msc": {"schedule": {"infusion_weeks": [0, 1, 2, 3]}}}},
                "monthly_x3": {},
                "monthly_x6": {
                    "arms": {"msc": {"schedule": {"infusion_weeks": [0, 4, 8, 12, 16, 20]}}}
                },
            },
        }
    )


@pytest.fixture(scope="module")
def jia_set():
    """One infusion with and without re-dosing on loss (like scenarios/jia-redosing.yaml)."""
    redose = {"max": 2, "assess_every_weeks": 4, "delay_weeks": 2}
    return scenario(
        {
            "endpoint": {"week": 52},
            "arms": {
                "control": {"endpoint_probability": 0.15},
                "msc": {
                    "schedule": {"infusion_weeks": [0], "redose_on_loss": redose},
                    "response": {"induction": 0.8, "loss_per_week": 0.03, "ceiling": 1.0},
                },
            },
            "variants": {
                "single_infusion": {"arms": {"msc": {"schedule": {"redose_on_loss": None}}}},
                "redose_on_loss": {},
            },
        }
    )


def lines(fig: Figure, prefix: str) -> dict[str, object]:
    return {
        line.get_gid()[len(prefix) :]: line
        for ax in fig.axes
        for line in ax.get_lines()
        if (line.get_gid() or "").startswith(prefix)
    }


# -- power_curve ----------------------------------------------------------------------------


def test_power_curve_one_line_per_variant_with_bands():
    result = run_result(
        a=VariantResult("a", [point(40, 0.3), point(80, 0.6)]),
        b=VariantResult("b", [point(40, 0.2), point(80, 0.5)]),
    )
    fig = plots.power_curve(result)
    assert isinstance(fig, Figure)
    power = lines(fig, "power:")
    assert set(power) == {"a", "b"}
    assert not lines(fig, "assurance:")  # assurance = power everywhere: not drawn twice
    np.testing.assert_allclose(power["a"].get_ydata(), [0.3, 0.6])
    np.testing.assert_allclose(power["b"].get_xdata(), [40, 80])
    (ax,) = fig.axes
    assert len(ax.collections) == 2  # one ±2 SE band per curve
    band = ax.collections[0].get_paths()[0].vertices
    se = result.variants["a"].points[0].power_se
    assert band[:, 1].max() == pytest.approx(0.6 + 2 * result.variants["a"].points[1].power_se)
    assert band[:, 1].min() == pytest.approx(0.3 - 2 * se)


def test_power_curve_assurance_goal_and_search_points():
    size = {
        "target": "power",
        "goal": 0.8,
        "n_total": 120,
        "achieved": 0.81,
        "se": 0.01,
        "curve": [
            {"n_total": 80, "achieved": 0.6, "se": 0.015},
            {"n_total": 120, "achieved": 0.81, "se": 0.012},
        ],
    }
    v = VariantResult("a", [point(40, 0.3, 0.25), point(80, 0.6, 0.5)], sample_size=size)
    fig = plots.power_curve(run_result(a=v), variant="a")
    assert set(lines(fig, "power:")) == {"a"}
    assert set(lines(fig, "assurance:")) == {"a"}
    np.testing.assert_allclose(lines(fig, "power:")["a"].get_xdata(), [40, 80, 120])
    np.testing.assert_allclose(lines(fig, "search:")["a"].get_ydata(), [0.81])
    (goal,) = lines(fig, "goal").values()
    assert set(goal.get_ydata()) == {0.8}
    (chosen,) = lines(fig, "sample_size:").values()
    assert set(chosen.get_xdata()) == {120}
    # one variant (the file has none: it is called "base"): the legend says "power", not
    # "base: power"
    base = VariantResult("base", [point(40, 0.3, 0.25), point(80, 0.6, 0.5)])
    legend = [t.get_text() for t in plots.power_curve(run_result(base=base)).legends[0].texts]
    assert legend == ["power", "assurance"]


def test_power_curve_unknown_variant():
    with pytest.raises(ValueError, match="no variant 'x'.*variants: a"):
        plots.power_curve(run_result(a=VariantResult("a", [point(40, 0.3)])), variant="x")


# -- response_over_time ---------------------------------------------------------------------


def test_response_curves_arms_by_variants(as_set):
    fig = plots.response_over_time(as_set, patients=500)
    curves = lines(fig, "curve:")
    # the control arm is the same in every variant: drawn once; msc once per variant
    assert set(curves) == {
        "weekly_x4,monthly_x3,monthly_x6/control",
        "weekly_x4/msc",
        "monthly_x3/msc",
        "monthly_x6/msc",
    }
    assert len(curves) == len(as_set.variants) * 2 - (len(as_set.variants) - 1)
    assert len(lines(fig, "infusions:")) == 3
    assert len(lines(fig, "endpoint:")) == 3  # durable endpoint: a diamond per msc curve
    (ax,) = fig.axes
    (window,) = [p for p in ax.patches if p.get_gid() == "endpoint_window"]
    assert (window.get_x(), window.get_x() + window.get_width()) == (16, 24)


def test_response_closed_form_equals_response_probability(as_set):
    fig = plots.response_over_time(as_set, simulated=False)
    curves = lines(fig, "curve:")
    assert not lines(fig, "simulated:")
    for name, sc in as_set.variants.items():
        values = point_values(sc)["msc"]
        line = curves[f"{name}/msc"]
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        for week in (3.0, 4.0, 10.0, 17.5, 24.0):
            (i,) = np.flatnonzero(x == week)
            expected = float(values.ceiling) * float(
                response_probability(
                    week,
                    sc.arms["msc"].schedule.infusion_weeks,
                    values.induction,
                    values.loss_per_week,
                    values.onset_weeks,
                )
            )
            assert y[i] == pytest.approx(expected, abs=1e-12)


def test_response_simulated_points_agree_with_closed_form(as_set):
    """The simulated check points lie within 4 Monte Carlo SE of the closed form."""
    patients = 2000
    fig = plots.response_over_time(as_set, patients=patients)
    curves, sims = lines(fig, "curve:"), lines(fig, "simulated:")
    assert set(sims) == {f"{v}/msc" for v in as_set.variants}
    for key, sim in sims.items():
        cx, cy = np.asarray(curves[key].get_xdata()), np.asarray(curves[key].get_ydata())
        for week, p_hat in zip(sim.get_xdata(), sim.get_ydata(), strict=True):
            p = cy[np.flatnonzero(cx == week)[0]]
            se = np.sqrt(max(p * (1 - p), 1e-4) / patients)
            assert abs(p_hat - p) <= 4 * se, (key, week, p_hat, p)


def test_response_wrong_model_is_caught(as_set):
    """Companion of the agreement test: a closed form with another λ fails the 4 SE check."""
    sc = as_set.variants["monthly_x3"]
    values = point_values(sc)["msc"]
    weeks = np.array([6.0, 10.0, 14.0])
    sim = plots.simulated_curve(values, weeks, 4000, 1, "check")
    wrong = np.array(
        [
            0.9 * response_probability(w, [0, 4, 8], values.induction, 2 * values.loss_per_week, 2)
            for w in weeks
        ]
    )
    se = np.sqrt(wrong * (1 - wrong) / 4000)
    assert np.any(np.abs(sim - wrong) > 4 * se)


def test_response_redosing_is_simulated(jia_set):
    fig = plots.response_over_time(jia_set, patients=1000)
    curves = lines(fig, "curve:")
    assert set(curves) == {
        "single_infusion,redose_on_loss/control",
        "single_infusion/msc",
        "redose_on_loss/msc",
    }
    assert set(lines(fig, "simulated:")) == {"single_infusion/msc"}
    redose = curves["redose_on_loss/msc"]
    assert redose.get_marker() == "o"  # simulated points
    single = curves["single_infusion/msc"]
    sx, sy = np.asarray(single.get_xdata()), np.asarray(single.get_ydata())
    late = [(w, p) for w, p in zip(redose.get_xdata(), redose.get_ydata(), strict=True) if w >= 30]
    assert late
    for w, p in late:  # re-dosing keeps more patients responding than one infusion
        assert p > sy[np.flatnonzero(sx == w)[0]] + 0.1


# -- burden and stopping --------------------------------------------------------------------


def test_burden_bars_are_the_largest_point_values():
    a = VariantResult("a", [point(40, 0.3), point(80, 0.6, infusions_per_patient={"msc": 5.5})])
    b = VariantResult("b", [point(40, 0.3)])
    fig = plots.burden(run_result(a=a, b=b))
    assert fig is not None and len(fig.axes) == 3
    heights = {
        c.patches[0].get_gid(): [r.get_height() for r in c]
        for ax in fig.axes
        for c in ax.containers
    }
    assert heights["infusions_per_patient:msc"] == [5.5, 2.9]
    assert heights["adverse_events_per_patient:msc"] == [0.29, 0.29]
    assert heights["serious_adverse_events_per_patient:msc"] == [0.1, 0.1]


def test_burden_none_without_infusions():
    v = VariantResult(
        "a",
        [
            point(
                40,
                0.3,
                infusions_per_patient={},
                adverse_events_per_patient={},
                serious_adverse_events_per_patient={},
            )
        ],
    )
    assert plots.burden(run_result(a=v)) is None


def test_stopping_bars_per_reason():
    fixed = run_result(a=VariantResult("a", [point(40, 0.3)]))
    assert plots.stopping(fixed) is None
    stops = {"efficacy": 0.2, "futility": 0.1, "safety": 0.05, "harm": 0.03}
    seq = VariantResult(
        "seq",
        [point(40, 0.3, stopped_early=stops), point(80, 0.6)],
        boundaries={"information": [0.5, 1.0], "efficacy_z": [2.96, 1.97]},
    )
    fig = plots.stopping(run_result(fixed=VariantResult("fixed", [point(40, 0.3)]), seq=seq))
    assert fig is not None and len(fig.axes) == 1  # only the variant that can stop
    heights = {c.patches[0].get_gid(): [r.get_height() for r in c] for c in fig.axes[0].containers}
    assert set(heights) == {f"stop:seq:{r}" for r in stops}
    for reason, p in stops.items():
        assert heights[f"stop:seq:{reason}"] == pytest.approx([p, 0.0])
    # harm stops are drawn (the total on top is every early stop) and named in words
    ax = fig.axes[0]
    assert "0.38" in [t.get_text() for t in ax.texts]
    assert "harm (control better)" in [t.get_text() for t in fig.legends[0].get_texts()]
    assert ax.get_xlabel() == "patients randomised in total (n_total)"
    assert ax.get_title() == "seq"  # several variants: each panel named


def test_single_variant_figures_do_not_say_base():
    stops = {"efficacy": 0.2, "futility": 0.1, "safety": 0.0, "harm": 0.0}
    base = VariantResult(
        "base",
        [point(40, 0.3, stopped_early=stops)],
        boundaries={"information": [0.5, 1.0], "efficacy_z": [2.96, 1.97]},
    )
    fig = plots.stopping(run_result(base=base))
    assert fig.axes[0].get_title() == ""
    burden = plots.burden(run_result(base=base))
    assert [t.get_text() for t in burden.axes[0].get_xticklabels()] == [""]
    assert burden.axes[0].get_ylabel() == "per randomised patient (count)"


# -- files ----------------------------------------------------------------------------------


def test_write_plots_atomic_png_files(tmp_path):
    s = scenario({"evaluate": {"n_total": [20, 40]}})
    from simtrial.planning.power import run

    result = run(s, simulations=200)
    stale = tmp_path / "stopping.png"
    stale.write_bytes(b"old")
    paths = plots.write_plots(result, s, tmp_path)
    assert [p.name for p in paths] == ["power.png", "response.png", "burden.png"]
    for path in paths:
        assert path.read_bytes().startswith(PNG)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not stale.exists()  # a fixed design has no stopping plot: the old one is removed
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_write_plots_failure_leaves_no_temp_file(tmp_path, monkeypatch):
    s = scenario()
    from simtrial.planning.power import run

    result = run(s, simulations=100)
    target = tmp_path / "power.png"
    target.write_bytes(b"previous")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        plots.write_plots(result, s, tmp_path, images={"power.png": PNG + b"new"})
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["power.png"]


def test_no_pyplot_state():
    """Figures are built without pyplot: no figure is registered with a pyplot manager."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    before = pyplot.get_fignums() if pyplot is not None else None
    fig = plots.power_curve(run_result(a=VariantResult("a", [point(40, 0.3)])))
    assert fig.canvas.__class__.__name__ == "FigureCanvasAgg"
    if pyplot is None:
        assert "matplotlib.pyplot" not in sys.modules
    else:
        assert pyplot.get_fignums() == before
