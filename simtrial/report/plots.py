"""Plots of a run: power curves, response over time, burden and stopping (issue 6, item 3).

Every function takes the data objects (a :class:`~simtrial.engines.results.RunResult`, a
:class:`~simtrial.scenario.schema.ScenarioSet`) and returns a
:class:`matplotlib.figure.Figure` built without ``pyplot``, so no global figure state leaks
into a notebook or a long-running process; figures are drawn on the Agg canvas.
:func:`write_plots` saves them as PNG files under ``results/<name>/``, each through a
temporary file and a rename.

========================= ============================================================
file                      picture
========================= ============================================================
``power.png``             :func:`power_curve` — power and assurance vs ``n_total``
``response.png``          :func:`response_over_time` — P(responding) over weeks
``burden.png``            :func:`burden` — infusions, AEs and SAEs per patient
``stopping.png``          :func:`stopping` — early stopping per reason (interim looks)
``type1_curve.png``       :func:`simtrial.report.curves.plot_type1_curve` — type I error and power
                          against the true control rate
========================= ============================================================

Choices:

- Monte Carlo bands are ±2 SE around each estimate (the ``*_se`` of ``summary.json``); the
  exact engine's power has no band.
- Assurance is drawn only when it differs from power somewhere (a parameter has a distribution);
  with every parameter fixed the two are the same simulation.
- The points evaluated by a sample-size search are drawn on the curve of its target (open
  markers), with the goal as a horizontal line and the chosen ``n_total`` as a vertical one.
- Burden is read at the largest ``n_total`` of each variant (per-patient figures do not depend
  on ``n_total``; the largest has the smallest Monte Carlo error).
- Response curves are ``c·π(t)`` at the parameters' point values (means, or medians where a
  mean is no typical value) — patients who stay in the study.
  An arm given by ``endpoint_probability`` has no time course: it is drawn at the endpoint
  only. Arms that re-dose on loss have no closed form: their curve is simulated with
  :func:`~simtrial.engines.vectorized.simulate_arm` at a grid of weeks (no dropout, responder
  endpoint at each week, fixed random streams). Other arms get simulated check points on the
  same grid over their closed-form curve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from simtrial.atomic import atomic_write
from simtrial.engines.base import point_values, stream
from simtrial.engines.results import RunResult, VariantResult, variant_title
from simtrial.model.response import ArmValues, endpoint_law, response_probability
from simtrial.report import selection as selection_report
from simtrial.report.figure import (
    CONTROL_COLOR,
    LINESTYLES,
    REASON_COLORS,
    REASON_LABELS,
    _color,
    _figure,
    _legend_below,
    png_bytes,
)
from simtrial.scenario.schema import Arm, Endpoint, Scenario, ScenarioSet

__all__ = [
    "PLOT_FILES",
    "burden",
    "power_curve",
    "render_plots",
    "response_over_time",
    "stopping",
    "write_plots",
]

PLOT_FILES = (
    "power.png",
    "response.png",
    "burden.png",
    "stopping.png",
    "type1_curve.png",
    "sweep.png",
    "selection.png",
)
"""The files :func:`write_plots` may write, in report order."""

# -- power and assurance --------------------------------------------------------------------


def _has_assurance(variant: VariantResult) -> bool:
    return any(
        p.assurance != p.power or p.assurance_se != p.power_se for p in variant.points
    ) or bool(variant.sample_size and variant.sample_size.get("target") == "assurance")


def _curve(
    variant: VariantResult, measure: str, search: bool
) -> tuple[dict[int, tuple[float, float]], set[int]]:
    """``n_total -> (value, se)`` of ``measure``; with ``search`` also the sample-size search's
    points (returned as the second item: the n evaluated only by the search)."""
    values = {
        p.n_total: (float(getattr(p, measure)), float(getattr(p, f"{measure}_se")))
        for p in variant.points
    }
    extra: set[int] = set()
    if search and variant.sample_size:
        for row in variant.sample_size.get("curve", []):
            n = int(row["n_total"])
            if n not in values:
                values[n] = (float(row["achieved"]), float(row["se"]))
                extra.add(n)
    return values, extra


def power_curve(result: RunResult, variant: str | None = None) -> Figure:
    """Power (and assurance) against the total sample size, with ±2 SE Monte Carlo bands.

    Parameters
    ----------
    result : RunResult
    variant : str, optional
        Draw only this variant (default: every variant, one colour each).

    Returns
    -------
    Figure
        One axes; each curve is a ``Line2D`` with ``gid`` ``"power:<variant>"`` or
        ``"assurance:<variant>"``; the sample-size goal has gid ``"goal"`` and the chosen
        ``n_total`` ``"sample_size:<variant>"``.
    """
    if variant is not None and variant not in result.variants:
        raise ValueError(
            f"no variant {variant!r} in the result (variants: {', '.join(result.variants)})"
        )
    names = [variant] if variant is not None else list(result.variants)
    fig = _figure(8.0, 4.6)
    ax = fig.add_subplot()
    goals: set[float] = set()
    searched = False
    for i, name in enumerate(names):
        v = result.variants[name]
        color = _color(list(result.variants).index(name))
        size = v.sample_size or {}
        target = size.get("target")
        measures = ["power", "assurance"] if _has_assurance(v) else ["power"]
        for measure in measures:
            search = target == measure or (target == "assurance" and measures == ["power"])
            curve, extra = _curve(v, measure, search)
            ns = np.array(sorted(curve))
            y = np.array([curve[n][0] for n in ns])
            se = np.array([curve[n][1] for n in ns])
            style = "-" if measure == "power" else "--"
            ax.fill_between(ns, y - 2 * se, y + 2 * se, color=color, alpha=0.15, linewidth=0)
            label = name if len(measures) == 1 else f"{name}: {measure}"
            if len(names) == 1 and (len(measures) == 1 or len(result.variants) == 1):
                label = measure  # one curve per measure: no variant name (not "base: power")
            ax.plot(
                ns, y, style, color=color, marker="o", ms=4, label=label, gid=f"{measure}:{name}"
            )
            if extra:
                xs = sorted(extra)
                ax.plot(
                    xs,
                    [curve[n][0] for n in xs],
                    "o",
                    mfc="white",
                    color=color,
                    ms=5,
                    gid=f"search:{name}",
                    label=None if searched else "sample-size search",
                )
                searched = True
        if size.get("goal") is not None:
            goals.add(float(size["goal"]))
        if size.get("n_total") is not None:
            ax.axvline(size["n_total"], color=color, ls=":", lw=1.2, gid=f"sample_size:{name}")
            ax.annotate(
                f"n = {size['n_total']}",
                (size["n_total"], 0.02 + 0.06 * i),
                xytext=(3, 0),
                textcoords="offset points",
                color=color,
                fontsize=8,
            )
    for goal in sorted(goals):
        ax.axhline(goal, color="black", ls=":", lw=1, gid="goal", label=f"goal {goal:g}")
    ax.set_ylim(0, 1)
    ax.set_xlabel("patients randomised in total (n_total)")
    ax.set_ylabel("probability the trial succeeds")
    title = "Power" + (
        " and assurance" if any(_has_assurance(result.variants[n]) for n in names) else ""
    )
    ax.set_title(f"{title} by sample size (bands: ±2 Monte Carlo SE)", fontsize=11)
    ax.grid(alpha=0.3)
    _legend_below(fig, ax)
    return fig


# -- response over time ---------------------------------------------------------------------


@dataclass
class _Group:
    """One arm specification shared by one or more variants."""

    arm: str
    spec: Arm
    endpoint: Endpoint
    scenario: Scenario
    values: ArmValues
    control: bool
    variants: list[str] = field(default_factory=list)


def _groups(scenarios: ScenarioSet) -> list[_Group]:
    groups: list[_Group] = []
    for name, sc in scenarios.variants.items():
        values = point_values(sc)
        for arm, spec in sc.arms.items():
            for g in groups:
                if g.arm == arm and g.spec == spec and g.endpoint == sc.endpoint:
                    g.variants.append(name)
                    break
            else:
                control = arm == sc.analysis.control
                groups.append(_Group(arm, spec, sc.endpoint, sc, values[arm], control, [name]))
    return groups


def _label(g: _Group, scenarios: ScenarioSet) -> str:
    several = len(scenarios.variants) > 1
    text = g.arm
    if several:
        if len(g.variants) == len(scenarios.variants):
            text += " (all variants)"
        else:
            text += f", {', '.join(g.variants)}"
    if g.spec.schedule is not None:
        weeks = ", ".join(f"{w:g}" for w in g.spec.schedule.infusion_weeks)
        text += f": weeks {weeks}"
        if g.spec.schedule.redose_on_loss is not None:
            text += f" + up to {g.spec.schedule.redose_on_loss.max} re-doses (simulated)"
    else:
        text += ": P(endpoint) given directly"
    return text


def _fine_grid(horizon: float, induction_times: list[float]) -> np.ndarray:
    """Weeks 0..horizon every 0.1 week, every integer week, and each induction time with the
    instant before it (so the jumps are drawn vertical)."""
    grid = set(np.round(np.arange(0.0, horizon + 1e-9, 0.1), 10).tolist())
    grid.update(float(w) for w in range(int(horizon) + 1))
    for e in induction_times:
        if 0 < e <= horizon:
            grid.add(float(e))
            grid.add(float(e) - 1e-6)
    return np.array(sorted(grid))


def closed_form_curve(values: ArmValues, weeks: np.ndarray) -> np.ndarray:
    """``c·π(t)`` at each week (no re-dosing, parameters as given in ``values``)."""
    assert values.schedule is not None
    c = float(np.asarray(values.ceiling, dtype=float))
    return np.array(
        [
            c
            * float(
                response_probability(
                    float(t),
                    values.schedule.infusion_weeks,
                    values.induction,
                    values.loss_per_week,
                    values.onset_weeks,
                )
            )
            for t in weeks
        ]
    )


def simulated_curve(
    values: ArmValues,
    weeks: np.ndarray,
    patients: int,
    seed: int,
    key: str,
) -> np.ndarray:
    """P(responding) at each week from :func:`simulate_arm`, ``patients`` patients per week.

    Dropout is switched off (the curve is for patients who stay in the study) and the endpoint
    is ``responder`` at that week; each week has its own random stream, keyed by ``key``.
    """
    from simtrial.engines.vectorized import simulate_arm

    no_dropout = replace(values, dropout_hazard=0.0)
    out = np.empty(len(weeks))
    for k, week in enumerate(weeks):
        endpoint = Endpoint(kind="responder", week=float(week), missing="non_responder")
        rng = stream(seed, key, 0, 0, k)
        outcome = simulate_arm(rng, 1, patients, no_dropout, endpoint)
        out[k] = outcome.successes.sum() / patients
    return out


def _sim_grid(horizon: float) -> np.ndarray:
    step = max(1.0, float(np.ceil(horizon / 24)))
    return np.arange(step, horizon + 1e-9, step)


def response_over_time(
    scenarios: ScenarioSet, simulated: bool = True, patients: int = 4000
) -> Figure:
    """P(responding) over weeks for each arm of each variant: the picture of a schedule
    comparison.

    Arms identical in several variants (typically the control) are drawn once. Curves of arms
    with a schedule and no re-dosing are the closed form ``c·π(t)`` (gid ``"curve:..."``),
    with simulated check points (gid ``"simulated:..."``) when ``simulated``; arms that re-dose
    on loss are simulated only (gid ``"curve:..."``, markers). The endpoint window is shaded;
    for a durable-response endpoint a diamond marks each arm's probability of meeting it.
    Infusion weeks are marked along the bottom. ``gid`` suffixes are ``<variants>/<arm>``
    with the variants joined by commas.

    Parameters
    ----------
    scenarios : ScenarioSet
    simulated : bool
        Add simulated points (arms without re-dosing: check points; with re-dosing: the curve).
    patients : int
        Simulated patients per week (Monte Carlo SE at most 0.5/sqrt(patients)).
    """
    groups = _groups(scenarios)
    ends = [sc.endpoint for sc in scenarios.variants.values()]
    horizon = max(e.end_week for e in ends) * 1.15
    seed = scenarios.base.seed
    fig = _figure(8.5, 5.0)
    ax = fig.add_subplot()
    shaded: list[tuple[float, float]] = []
    for e in ends:
        if e.kind == "durable_responder":
            assert e.from_week is not None and e.to_week is not None
            window = (e.from_week, e.to_week)
        elif e.kind == "responder":
            assert e.week is not None
            window = (e.week - 0.25, e.week + 0.25)
        else:
            window = (0.0, e.end_week)
        if window not in shaded:
            shaded.append(window)
            ax.axvspan(*window, color="#f2c94c", alpha=0.25, lw=0, gid="endpoint_window")
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    colored = rug_row = 0
    for g in groups:
        if g.control:
            color, style = CONTROL_COLOR, "-"
        else:
            # colour and line style both change, so curves that coincide stay visible
            color, style = _color(colored), LINESTYLES[colored % len(LINESTYLES)]
            colored += 1
        gid = f"{','.join(g.variants)}/{g.arm}"
        label = _label(g, scenarios)
        end = g.endpoint
        if g.spec.schedule is None:
            p = float(np.asarray(g.values.endpoint_probability, dtype=float))
            if end.kind == "durable_responder":
                assert end.from_week is not None and end.to_week is not None
                ax.plot(
                    [end.from_week, end.to_week],
                    [p, p],
                    color=color,
                    lw=2.5,
                    label=label,
                    gid=f"curve:{gid}",
                    solid_capstyle="butt",
                )
            else:
                ax.plot(
                    [end.end_week], [p], "s", color=color, ms=7, label=label, gid=f"curve:{gid}"
                )
            continue
        schedule = g.spec.schedule
        onset = g.values.onset_weeks
        grid = _sim_grid(horizon)
        if schedule.redose_on_loss is not None:
            y = simulated_curve(g.values, grid, patients, seed, f"plot/{gid}")
            ax.plot(
                grid,
                y,
                style,
                marker="o",
                ms=3.5,
                lw=1.8,
                color=color,
                label=label,
                gid=f"curve:{gid}",
            )
        else:
            weeks = _fine_grid(horizon, [s + onset for s in schedule.infusion_weeks])
            ax.plot(
                weeks,
                closed_form_curve(g.values, weeks),
                style,
                color=color,
                lw=1.8,
                label=label,
                gid=f"curve:{gid}",
            )
            if simulated:
                y = simulated_curve(g.values, grid, patients, seed, f"plot/{gid}")
                ax.plot(grid, y, "o", ms=3, mfc="white", color=color, gid=f"simulated:{gid}")
            if end.kind == "durable_responder":
                law = endpoint_law(g.values, end)
                ax.plot(
                    [end.end_week],
                    [float(law.success)],
                    "D",
                    color=color,
                    ms=6,
                    mec="black",
                    mew=0.6,
                    gid=f"endpoint:{gid}",
                )
        infusions = [w for w in schedule.infusion_weeks if w <= horizon]
        ax.plot(
            infusions,
            [0.03 + 0.035 * rug_row] * len(infusions),
            "^",
            color=color,
            ms=5,
            transform=trans,
            clip_on=False,
            gid=f"infusions:{gid}",
        )
        rug_row += 1
    ax.set_xlim(0, horizon)
    ax.set_ylim(0, 1)
    ax.set_xlabel("weeks since randomisation")
    ax.set_ylabel("P(responding), patients who stay in the study")
    kind = ends[0].kind
    what = {
        "responder": "endpoint week",
        "durable_responder": "endpoint window",
        "time_to_loss": "follow-up",
    }[kind]
    keys = [f"shaded: {what}", "▲ infusions"]
    if kind == "durable_responder":
        keys.append("◆ responding all through the window")
    if simulated:
        keys.append(f"○ simulated ({patients} patients)")
    ax.set_title("Response over time\n" + "; ".join(keys), fontsize=10)
    ax.grid(alpha=0.3)
    _legend_below(fig, ax)
    return fig


# -- burden and stopping --------------------------------------------------------------------

BURDEN = (
    ("infusions_per_patient", "Infusions per patient"),
    ("adverse_events_per_patient", "Infusion-related AEs per patient"),
    ("serious_adverse_events_per_patient", "Serious AEs per patient"),
)


def burden(result: RunResult) -> Figure | None:
    """Infusions, infusion-related AEs and serious AEs per randomised patient, bars per variant
    and arm (arms with a schedule), at each variant's largest ``n_total``.

    With one such arm the bars take the variants' colours (as in :func:`power_curve`); with
    several, the arms' colours. Returns ``None`` when no arm has a schedule. Bars have gid
    ``"<measure>:<arm>"``.
    """
    names = list(result.variants)
    points = {n: max(v.points, key=lambda p: p.n_total) for n, v in result.variants.items()}
    arms: list[str] = []
    for p in points.values():
        for arm in p.infusions_per_patient:
            if arm not in arms:
                arms.append(arm)
    if not arms:
        return None
    fig = _figure(min(12.0, max(8.0, 6.0 + 0.8 * len(names) * len(arms))), 3.8)
    axes = fig.subplots(1, len(BURDEN))
    width = 0.8 / len(arms)
    rotate = sum(len(n) for n in names) > 30
    for ax, (key, title) in zip(axes, BURDEN, strict=True):
        for j, arm in enumerate(arms):
            xs = [i for i, n in enumerate(names) if arm in getattr(points[n], key)]
            heights = [getattr(points[names[i]], key)[arm] for i in xs]
            offsets = np.array(xs, dtype=float) + (j - (len(arms) - 1) / 2) * width
            colors = [_color(i) for i in xs] if len(arms) == 1 else _color(j)
            bars = ax.bar(
                offsets, heights, width * 0.9, color=colors, label=arm, gid=f"{key}:{arm}"
            )
            fmt = "%.2f" if key == "infusions_per_patient" else "%.3f"
            ax.bar_label(bars, fmt=fmt, fontsize=7)
        ax.set_xticks(
            range(len(names)),
            [variant_title(result, n) for n in names],
            rotation=20 if rotate else 0,
            ha="right" if rotate else "center",
            fontsize=8,
        )
        ax.set_title(title, fontsize=10)
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("per randomised patient (count)")
    if len(arms) > 1:
        axes[0].legend(fontsize=8)
    sizes = sorted({p.n_total for p in points.values()})
    fig.suptitle(
        f"Burden per randomised patient ({', '.join(arms)}; "
        f"n_total {', '.join(str(n) for n in sizes)})",
        fontsize=11,
    )
    return fig


def _has_stopping(variant: VariantResult) -> bool:
    return variant.boundaries is not None or any(
        any(v > 0 for v in p.stopped_early.values()) for p in variant.points
    )


def stopping(result: RunResult) -> Figure | None:
    """Probability of stopping early, per reason (efficacy, futility, safety), stacked bars per
    ``n_total``, one panel per variant with interim or safety looks.

    Returns ``None`` when no variant can stop early. Bars have gid
    ``"stop:<variant>:<reason>"``.
    """
    names = [n for n, v in result.variants.items() if _has_stopping(v)]
    if not names:
        return None
    per_look = all(
        "stopped_by_look" in max(result.variants[n].points, key=lambda p: p.n_total).extra
        for n in names
    )
    rows = 2 if per_look else 1
    fig = _figure(max(6.0, 3.2 * len(names)), 3.8 * rows)
    grid = np.atleast_2d(fig.subplots(rows, len(names), sharey=True, squeeze=False))
    axes = grid[0]
    if per_look:
        for ax, name in zip(grid[1], names, strict=True):
            _stops_per_look(ax, name, max(result.variants[name].points, key=lambda p: p.n_total))
        grid[1][0].set_ylabel("P(stop at this look)")
    for ax, name in zip(axes, names, strict=True):
        points = sorted(result.variants[name].points, key=lambda p: p.n_total)
        x = np.arange(len(points))
        bottom = np.zeros(len(points))
        for reason, color in REASON_COLORS.items():
            h = np.array([p.stopped_early.get(reason, 0.0) for p in points])
            label = REASON_LABELS.get(reason, reason)
            ax.bar(x, h, 0.6, bottom=bottom, color=color, label=label, gid=f"stop:{name}:{reason}")
            bottom += h
        for xi, total in zip(x, bottom, strict=True):
            ax.text(xi, total + 0.02, f"{total:.2f}", ha="center", fontsize=8)
        ax.set_xticks(x, [str(p.n_total) for p in points])
        ax.set_xlabel("patients randomised in total (n_total)")
        ax.set_title(variant_title(result, name), fontsize=10)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("P(trial stops early)")
    _legend_below(fig, axes[0])
    fig.suptitle("Early stopping by reason", fontsize=11)
    return fig


# -- files ----------------------------------------------------------------------------------


def _stops_per_look(ax: Any, name: str, point: Any) -> None:
    """Stacked bars of the stops at each look (information fraction) of one point."""
    looks = point.extra["stopped_by_look"]
    x = np.arange(len(looks))
    bottom = np.zeros(len(looks))
    for reason, color in REASON_COLORS.items():
        h = np.array([look.get(reason, 0.0) for look in looks])
        ax.bar(x, h, 0.6, bottom=bottom, color=color, gid=f"stoplook:{name}:{reason}")
        bottom += h
    ax.set_xticks(x, [f"{look['information']:.2f}" for look in looks])
    ax.set_xlabel(f"look (fraction of endpoints), n_total = {point.n_total}")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)


def render_plots(result: RunResult, scenarios: ScenarioSet) -> dict[str, bytes]:
    """Every applicable plot as PNG bytes, keyed by file name (see :data:`PLOT_FILES`)."""
    from simtrial.report.curves import plot_type1_curve
    from simtrial.report.sweep import sweep_figure

    figures: dict[str, Figure | None] = {
        "power.png": power_curve(result),
        "response.png": response_over_time(scenarios),
        "burden.png": burden(result),
        "stopping.png": stopping(result),
        "type1_curve.png": plot_type1_curve(result, scenarios),
        "sweep.png": sweep_figure(result.sweep) if result.sweep is not None else None,
        "selection.png": selection_report.figure(result),
    }
    return {name: png_bytes(fig) for name, fig in figures.items() if fig is not None}


def write_plots(
    result: RunResult,
    scenarios: ScenarioSet,
    out_dir: str | Path,
    images: Mapping[str, bytes] | None = None,
) -> list[Path]:
    """Save the plots as PNG files in ``out_dir``; return their paths.

    Each file is written to a temporary file in ``out_dir`` and renamed over the target. A plot
    that does not apply (e.g. ``stopping.png`` for a fixed design) is not written, and a copy
    left by an earlier run is removed. ``images`` (from :func:`render_plots`) avoids drawing
    the figures twice when the report embeds them too.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = images if images is not None else render_plots(result, scenarios)
    paths = []
    for name in PLOT_FILES:
        path = out / name
        if name in images:
            atomic_write(path, images[name])
            paths.append(path)
        else:
            path.unlink(missing_ok=True)
    return paths
