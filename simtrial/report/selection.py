"""Presentation of selection designs (``analysis.selection``): terminal rows, a figure and a
report section. The numbers come from each point's ``selection`` entry in summary.json
(:func:`simtrial.engines.vectorized.selection_summary`)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape as esc
from typing import TYPE_CHECKING, Any

import numpy as np

from simtrial.engines.results import PointResult, RunResult, variant_title

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CAPTION = (
    "Schedule selection inside one trial, at each total sample size: for each treatment arm, "
    "the chance that the trial goes on past the interim look with this arm selected to continue "
    "(light bars) and the chance that it is shown better than the control — its hypothesis "
    "rejected by the closed test, in the treatment's favour, at the interim or at the end (dark "
    "bars). A trial that stops for success at the interim selects no arm, so an arm can be "
    "shown better more often than it is selected (its dark bar then hides the light one). "
    "Diamonds: the chance that at least one arm is shown better (the power); crosses: the "
    "family-wise error rate when every arm is like the control. At the assumed endpoint "
    "probabilities (each parameter at its point value)."
)


def _selection(point: PointResult) -> dict[str, Any] | None:
    return point.extra.get("selection")


def has_selection(result: RunResult) -> bool:
    return any(_selection(p) for v in result.variants.values() for p in v.points)


def table_rows(points: list[PointResult]) -> list[tuple[str, Callable[[PointResult], str]]]:
    """Extra rows of the terminal table: selection and power per arm, FWER, expected n per arm."""
    if not any(_selection(p) for p in points):
        return []

    def per_arm(key: str, digits: int = 2) -> Callable[[PointResult], str]:
        def cell(p: PointResult) -> str:
            s = _selection(p)
            return " / ".join(f"{v:.{digits}f}" for v in s[key].values()) if s else "—"

        return cell

    def fwer(p: PointResult) -> str:
        s = _selection(p)
        return f"{s['fwer_global_null']:.3f}" if s else "—"

    def every_arm(p: PointResult) -> str:
        """Expected n in the order of the other per-arm rows (the control first)."""
        s = _selection(p)
        if not s:
            return "—"
        n = s["expected_n_per_arm"]
        return " / ".join(f"{n[a]:.1f}" for a in p.endpoint_probability if a in n)

    return [
        ("selected to continue", per_arm("selected")),
        ("shown better, per arm", per_arm("power_per_arm", 3)),
        ("FWER global null", fwer),
        ("  partial null, per arm", per_arm("fwer_partial_null", 3)),
        ("expected n per arm", every_arm),
    ]


def caption(points: list[PointResult]) -> str:
    """The arm order of the selection rows, for the terminal table's caption ('' if none)."""
    s = next((_selection(p) for p in points if _selection(p)), None)
    if s is None:
        return ""
    return (
        f"; selection rows: {' / '.join(s['selected'])}; selected to continue: the trial goes "
        "on past the interim with that arm (a trial stopping there for success selects none, "
        "so 'shown better' can exceed it); shown better: that arm's hypothesis rejected in its "
        "favour, at the interim or the end; partial null: that arm like the control, the "
        "others as assumed"
    )


def figure(result: RunResult) -> Figure | None:
    """Selection probability and power per arm, grouped by ``n_total``; one panel per variant
    with a selection design. Bars have gid ``"select:<variant>:<arm>"`` and
    ``"win:<variant>:<arm>"``."""
    names = [n for n, v in result.variants.items() if any(_selection(p) for p in v.points)]
    if not names:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(6.0, 5.0 * len(names)), 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, len(names), sharey=True, squeeze=False)[0])
    colors = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
    for ax, name in zip(axes, names, strict=True):
        points = sorted(
            (p for p in result.variants[name].points if _selection(p)), key=lambda p: p.n_total
        )
        arms = list(_selection(points[0])["selected"])  # type: ignore[index]
        width = 0.8 / len(arms)
        x = np.arange(len(points))
        for j, arm in enumerate(arms):
            sel = [_selection(p)["selected"][arm] for p in points]  # type: ignore[index]
            win = [_selection(p)["power_per_arm"][arm] for p in points]  # type: ignore[index]
            pos = x - 0.4 + width * (j + 0.5)
            c = colors[j % len(colors)]
            ax.bar(pos, sel, width * 0.9, color=c, alpha=0.35, gid=f"select:{name}:{arm}",
                   label=f"{arm}: selected to continue")  # fmt: skip
            ax.bar(pos, win, width * 0.9, color=c, gid=f"win:{name}:{arm}",
                   label=f"{arm}: shown better")  # fmt: skip
        ax.plot(x, [p.power for p in points], "D", color="black", label="power (≥ 1 arm)")
        ax.plot(
            x,
            [_selection(p)["fwer_global_null"] for p in points],  # type: ignore[index]
            "x",
            color="black",
            label="FWER (every arm like the control)",
        )
        ax.set_xticks(x, [str(p.n_total) for p in points])
        ax.set_xlabel("patients randomised in total (n_total)")
        ax.set_ylim(0, 1)
        ax.set_title(variant_title(result, name), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("probability")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8)
    fig.suptitle("Selection at the interim and power per arm", fontsize=11)
    return fig


def section_html(result: RunResult) -> str:
    """A report section explaining the selection design and its figures, or ''."""
    if not has_selection(result):
        return ""
    parts = ["<h3>Selection inside one trial</h3>"]
    for name, variant in result.variants.items():
        points = [p for p in sorted(variant.points, key=lambda p: p.n_total) if _selection(p)]
        if not points:
            continue
        s0 = _selection(points[0])
        assert s0 is not None
        arms = list(s0["selected"])
        measure = (
            "cumulative rate difference"
            if s0["effect_measure"] == "estimate"
            else "cumulative z statistic"
        )
        parts.append(
            f"<p><b>{esc(name)}</b>: after look {s0['at_look']}, "
            f"{esc(_rule_words(s0))} (measured by the "
            f"{measure}); the others stop recruiting. Each arm's hypothesis (its endpoint "
            f"probability no better than the control's) is tested by the closed test with "
            f"{esc(s0['intersection_test'].capitalize())} intersection tests, stages combined by "
            f"the inverse-normal method (rpact getSimulationMultiArmRates). Success: "
            f"{'at least one arm' if s0['success'] == 'at_least_one' else 'every selected arm'}"
            f" shown better. <i>Selected</i>: the trial goes on past the interim with this arm; "
            f"a trial that stops at the interim for success selects no arm, so an arm can be "
            f"<i>shown better</i> (its hypothesis rejected in its favour, at the interim or at "
            f"the end) more often than it is selected. FWER: chance of showing any arm better "
            f"when all arms are like the control (global); partial: one arm like the control, "
            f"the others as assumed.</p>"
        )
        head = "".join(f"<th>{esc(a)}</th>" for a in arms)
        rows = []
        for p in points:
            s = _selection(p)
            assert s is not None
            for label, key, digits in (
                ("selected to continue", "selected", 3),
                ("shown better", "power_per_arm", 3),
                ("FWER, this arm null", "fwer_partial_null", 3),
                ("expected n", "expected_n_per_arm", 1),
            ):
                cells = "".join(f"<td>{s[key][a]:.{digits}f}</td>" for a in arms)
                rows.append(f"<tr><td>{p.n_total}</td><td>{label}</td>{cells}</tr>")
            rows.append(
                f"<tr><td>{p.n_total}</td><td>power (≥ 1 arm) / FWER global</td>"
                f"<td colspan='{len(arms)}'>{p.power:.3f} ± {p.power_se:.3f} / "
                f"{s['fwer_global_null']:.3f}</td></tr>"
            )
        parts.append(
            f"<table><tr><th>n_total</th><th>measure</th>{head}</tr>{''.join(rows)}</table>"
        )
    return "".join(parts)


def _rule_words(s: dict[str, Any]) -> str:
    return {
        "best": "only the best arm continues",
        "r_best": "the r best arms continue",
        "epsilon": "the arms within ε of the best continue",
        "all": "every arm continues",
        "threshold": "the arms above the threshold continue",
    }.get(s["rule"], s["rule"])
