"""The type I error curve (:mod:`simtrial.planning.curves`) as terminal lines, a figure and a
report section."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from simtrial.engines.results import RunResult, variant_title
from simtrial.planning.curves import DEFINITION
from simtrial.scenario.schema import Scenario

__all__ = ["CAPTION", "plot_type1_curve", "report_section", "terminal_lines"]


def terminal_lines(result: RunResult) -> list[str]:
    """One line per variant: the worst-case type I error over the curve's grid and where."""
    lines = []
    for name, variant in result.variants.items():
        curve = variant.type1_curve
        if not curve:
            continue
        worst = max(curve["points"], key=lambda p: p["worst_type1_error"])
        lo, hi = curve["control_rate"][0], curve["control_rate"][-1]
        cal = curve.get("calibration")
        infos = [p.extra["calibration"] for p in variant.points if "calibration" in p.extra]
        rule = f", calibrated {cal['parameter']}" if cal and infos else ""
        text = (
            f"type I error across true control rates ({name}, {curve['method']}{rule}; both "
            f"arms at the same rate, every rejection counted): worst "
            f"{worst['worst_type1_error']:.4f} at a control rate of "
            f"{worst['worst_at_control_rate']:.2f} (n_total {worst['n_total']}; rates "
            f"{lo:.2f}-{hi:.2f} checked)"
        )
        if cal and infos:
            thresholds = ", ".join(
                f"{p.n_total}: {p.extra['calibration']['calibrated']:g}"
                for p in variant.points
                if "calibration" in p.extra
            )
            after = max(i["worst_type1_error"] for i in infos)
            before = max(i["written_worst_type1_error"] for i in infos)
            over = f"{cal['over'][0]:g}-{cal['over'][1]:g}"
            text += (
                f". The {cal['parameter']} as written, {infos[0]['written']:g}, would allow "
                f"{before:.4f} at worst over control rates {over}; the calibrated threshold per "
                f"n_total ({thresholds}) keeps it at {after:.4f} <= {cal['type1_error']:g}, and "
                "every result above uses it"
            )
        lines.append(text)
    return lines


# -- plot -----------------------------------------------------------------------------------


def control_prior_density(scenario: Scenario, rates: NDArray[np.float64]) -> Any:
    """Density of the control arm's endpoint probability *as analysed* at ``rates`` (None when
    the control's endpoint probability is a fixed number or given by a response model).

    The arm's ``endpoint_probability`` θ (Beta, or a fitted prior through its Beta-mixture
    approximation) is analysed as p = θ·o under non-responder imputation (o = probability of
    staying in the study to the endpoint), so the density of p is f(p/o)/o.
    """
    from simtrial.engines.design import as_beta_mixture
    from simtrial.scenario.parameters import BetaParam, PriorParam

    c = scenario.analysis.control
    spec = scenario.arms[c]
    param = spec.endpoint_probability
    if not isinstance(param, BetaParam | PriorParam):
        return None
    try:
        mixture = as_beta_mixture(param)
    except Exception:  # a fitted variable without a Beta mixture: no density drawn
        return None
    o = 1.0
    if scenario.endpoint.missing == "non_responder":
        o = float(np.exp(-spec.dropout_hazard * scenario.endpoint.end_week))
    theta = np.asarray(rates) / o
    inside = (theta > 0) & (theta < 1)
    dens = np.zeros_like(theta)
    dens[inside] = mixture.pdf(theta[inside]) / o
    return dens, str(param)


def plot_type1_curve(result: RunResult, scenarios: Any) -> Any:
    """``type1_curve.png``: type I error (top) and power (bottom) against the true control
    rate, one line per ``n_total``, one column per variant; the α (or calibration target)
    line, the calibration range shaded, and the control rate's prior density (grey, right
    axis) when the control response is uncertain. None when no variant has a curve."""
    from simtrial.report.figure import _color, _figure

    names = [n for n, v in result.variants.items() if v.type1_curve]
    if not names:
        return None
    fig = _figure(max(7.0, min(4.2 * len(names), 12.0) + 1.0), 6.4)
    axes = fig.subplots(2, len(names), squeeze=False, sharex=True)
    for j, name in enumerate(names):
        curve = result.variants[name].type1_curve
        assert curve is not None
        scenario = scenarios.variants[name]
        x = np.asarray(curve["control_rate"])
        top, bottom = axes[0, j], axes[1, j]
        cal = curve.get("calibration")
        for i, p in enumerate(curve["points"]):
            color = _color(i)
            y = np.asarray(p["type1_error"])
            label = f"n_total {p['n_total']}"
            if cal:
                label += f" ({cal['parameter']} {p['calibrated_threshold']:g})"
            top.plot(x, y, color=color, lw=1.5, label=label, gid=f"type1:{name}:{p['n_total']}")
            if "type1_error_written" in p:
                written = cal["parameter"] if cal else "threshold"
                top.plot(
                    x,
                    p["type1_error_written"],
                    color=color,
                    lw=0.9,
                    ls=":",
                    label=f"written {written} (dotted)" if i == 0 else None,
                )
            pw = np.asarray(p["power"])
            bottom.plot(x, pw, color=color, lw=1.5, gid=f"power:{name}:{p['n_total']}")
            if "type1_error_se" in p:
                se = np.asarray(p["type1_error_se"])
                top.fill_between(x, y - 2 * se, y + 2 * se, color=color, alpha=0.15, lw=0)
                se = np.asarray(p["power_se"])
                bottom.fill_between(x, pw - 2 * se, pw + 2 * se, color=color, alpha=0.15, lw=0)
        level = cal["type1_error"] if cal else curve.get("alpha")
        if level is not None:
            what = "calibration target" if cal else "alpha"
            top.axhline(level, color="black", ls="--", lw=1, label=f"{what} {level:g}")
        if cal:
            lo, hi = cal["over"]
            for ax in (top, bottom):
                span = f"calibration range {lo:g}–{hi:g}" if ax is top else None
                ax.axvspan(lo, hi, color="#f2d16b", alpha=0.25, lw=0, label=span)
        point = curve["point_control_rate"]
        for ax in (top, bottom):
            assumed = f"assumed control rate {point:.3g}" if ax is top else None
            ax.axvline(point, color="#555555", lw=0.8, ls="-.", label=assumed)
            ax.grid(alpha=0.3)
        handles, labels = top.get_legend_handles_labels()
        density = control_prior_density(scenario, x)
        if density is not None:
            twin = top.twinx()
            twin.fill_between(
                x, density[0], color="#999999", alpha=0.25, lw=0, label="control-rate prior"
            )
            twin.set_yticks([])
            twin.set_ylim(0, float(np.max(density[0])) * 3.0 if np.max(density[0]) > 0 else 1)
            more = twin.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        method = "exact" if curve["method"] == "exact" else "simulated"
        title = variant_title(result, name)
        top.set_title(f"{title}: {method}" if title else method, fontsize=10)
        top.set_ylim(bottom=0)
        bottom.set_ylim(0, 1)
        bottom.set_xlabel("true control endpoint probability p")
        if j == 0:
            top.set_ylabel("type I error\n(both arms at p)")
            bottom.set_ylabel(f"power\n(treatment at p {curve['delta']:+.2f})")
        (twin if density is not None else top).legend(
            handles, labels, fontsize=7, loc="upper right"
        )
    fig.suptitle("Type I error and power against the true control rate", fontsize=10)
    return fig


CAPTION = (
    "Type I error (top: both arms with the same true endpoint probability p, on the x axis) "
    "and power (bottom: the control at p, the treatment at p plus the difference assumed at "
    "the scenario's point values) for each total sample size. The dash-dot line marks the "
    "control rate the scenario assumes; grey shading, the prior distribution of the control "
    "rate (when it is uncertain); the dashed line the level (alpha, or the calibration "
    "target). With calibration, solid lines use the threshold calibrated at each size (in the "
    "legend), dotted lines the threshold as written, and the yellow band is the range of "
    "control rates the calibration protects. Exact curves have no Monte Carlo error; "
    "simulated ones have ±2 SE bands."
)


def _f(x: Any, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def report_section(result: RunResult) -> str | None:
    """The report's section on the type I error curve and calibration (None without one)."""
    from html import escape as esc

    names = [n for n, v in result.variants.items() if v.type1_curve]
    if not names:
        return None
    first = result.variants[names[0]].type1_curve
    assert first is not None
    lo, hi = first["control_rate"][0], first["control_rate"][-1]
    parts = [
        "<p>How often the design declares success when the treatment does nothing, for every "
        "true control response rate, not only the assumed one. A Bayesian rule that borrows "
        "the control rate from earlier trials keeps its type I error low where the truth "
        "agrees with the prior and lets it rise where it does not (RBesT <code>oc2S</code>). "
        f"Definition: {esc(DEFINITION)}</p>",
        f"<p>Grid: {len(first['control_rate'])} control rates from {lo:g} to {hi:g}; method "
        f"<b>{esc(first['method'])}</b>"
        + (
            " (enumeration of all outcomes with the final decision rule; the non-binding "
            "futility look and safety stops are ignored, so these curves are upper bounds for "
            "the design as run)."
            if first["method"] == "exact"
            else f" ({first.get('simulations')} simulated trials per rate)."
        )
        + "</p>",
    ]
    rows = []
    for name in names:
        v = result.variants[name]
        curve = v.type1_curve
        assert curve is not None
        by_n = {p.n_total: p for p in v.points}
        for entry in curve["points"]:
            point = by_n.get(entry["n_total"])
            cal = point.extra.get("calibration") if point is not None else None
            cells = [
                esc(name),
                str(entry["n_total"]),
                f"{_f(entry['worst_type1_error'])} at {entry['worst_at_control_rate']:.2f}",
            ]
            if cal:
                cells += [
                    f"{cal['written']:g}: {_f(cal['written_worst_type1_error'])} at "
                    f"{cal['written_worst_at_control_rate']:.3f}",
                    f"{cal['calibrated']:g}",
                    f"{_f(cal['worst_type1_error'])} at {cal['worst_at_control_rate']:.3f}",
                    _f(cal["looser_worst_type1_error"]),
                ]
            else:
                cells += ["—"] * 4
            if point is not None:
                cells += [
                    f"{point.power:.3f} ± {point.power_se:.3f}",
                    f"{point.assurance:.3f} ± {point.assurance_se:.3f}",
                ]
            else:
                cells += ["—", "—"]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    cal_spec = first.get("calibration")
    if cal_spec:
        parts.append(
            f"<p><b>Calibration.</b> The {esc(cal_spec['parameter'])} is chosen at each total "
            f"sample size so that the worst-case type I error over true control rates "
            f"{cal_spec['over'][0]:g}–{cal_spec['over'][1]:g} is at most "
            f"{cal_spec['type1_error']:g} (exact search over the finite set of decision "
            "regions: the largest region that keeps the target; the threshold shown is the "
            "shortest decimal giving that region). <b>Every other result of this report — "
            "power, assurance, type I error at the assumed rates, stopping and the sample-size "
            "search — uses the calibrated value.</b> “One step looser” is the worst case "
            "when the next outcome is admitted to the success region: above the target, so "
            "the calibrated threshold is the tightest that keeps it.</p>"
        )
    parts.append(
        "<table><tr><th>variant</th><th>n_total</th><th>worst type I error on the grid "
        "(at control rate)</th><th>written threshold: worst in the calibration range (at)"
        "</th><th>calibrated</th><th>worst in the calibration range (at)</th>"
        "<th>one step looser</th><th>power</th><th>assurance</th>"
        "</tr>" + "".join(rows) + "</table>"
    )
    return "".join(parts)
