"""Presentation of a sensitivity sweep: terminal tables, ``sweep.png`` and the report section.

See :mod:`simtrial.planning.sweep` for what a sweep computes.
"""

from __future__ import annotations

import re
from typing import Any

from simtrial.planning.sweep import SweepCell, SweepResult

__all__ = ["describe_path", "sensitivity_html", "sweep_figure", "sweep_tables"]


def sweep_tables(result: SweepResult, measure: str = "power") -> list[Any]:
    """Compact terminal tables (rich): power ± SE per cell; ``*`` marks the scenario's own."""
    from rich.table import Table

    tables = []
    two = len(result.paths) == 2
    for vname in result.variants:
        for n in result.n_total[vname]:
            title = f"sweep — {vname}, n_total {n}: {measure} ± MC SE (* = the scenario's own)"
            if two:
                title += f"\nrows: {result.paths[0]}; columns: {result.paths[1]}"
            table = Table(title=title, title_justify="left")
            if two:
                table.add_column("rows \\ columns")
                for label in result.labels[1]:
                    table.add_column(label, justify="right")
                for i, row_label in enumerate(result.labels[0]):
                    cells = [
                        _cell_text(result.cell(vname, (i, j), n), measure)
                        for j in range(len(result.labels[1]))
                    ]
                    table.add_row(row_label, *cells)
            else:
                table.add_column(result.paths[0])
                for col in ("power", "type I error", "assurance", "P(endpoint) at point values"):
                    table.add_column(col, justify="right")
                for i, row_label in enumerate(result.labels[0]):
                    c = result.cell(vname, (i,), n)
                    p = c.point
                    table.add_row(
                        row_label + (" *" if c.own else ""),
                        _pm(p.power, p.power_se),
                        _pm(p.type1_error, p.type1_error_se),
                        _pm(p.assurance, p.assurance_se),
                        " / ".join(f"{v:.3f}" for v in p.endpoint_probability.values()),
                    )
                table.caption = (
                    f"P(endpoint) per arm: {' / '.join(result.arms)}; power: a significant "
                    "result in the treatment's favour; type I error: the treatment given the "
                    "control's endpoint probability"
                )
            tables.append(table)
    return tables


def _pm(value: float, se: float) -> str:
    return f"{value:.3f} ± {se:.3f}" if se else f"{value:.3f}"


def _cell_text(c: SweepCell, measure: str) -> str:
    value, se = getattr(c.point, measure), getattr(c.point, f"{measure}_se")
    return _pm(value, se) + (" *" if c.own else "")


def _numeric(values: tuple[Any, ...]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


MEASURE_LABELS = {
    "power": "power (treatment better)",
    "type1_error": "type I error",
    "assurance": "assurance",
}


def sweep_figure(result: SweepResult, measure: str = "power") -> Any:
    """Heat map per variant and ``n_total`` (two parameters; values in the cells, the
    scenario's own cell outlined) or lines with ±2 SE bands (one parameter; the own value
    starred)."""
    from matplotlib.patches import Rectangle

    from simtrial.report.figure import LINESTYLES, _color, _figure, _legend_below

    name = MEASURE_LABELS.get(measure, measure)
    if len(result.paths) == 1:
        fig = _figure(6.4, 4.4)
        ax = fig.add_subplot()
        values = result.values[0]
        x = list(values) if _numeric(values) else list(range(len(values)))
        for v, vname in enumerate(result.variants):
            for s, n in enumerate(result.n_total[vname]):
                cells = [result.cell(vname, (i,), n) for i in range(len(values))]
                y = [getattr(c.point, measure) for c in cells]
                se = [getattr(c.point, f"{measure}_se") for c in cells]
                color = _color(v)
                ax.plot(
                    x,
                    y,
                    color=color,
                    linestyle=LINESTYLES[s % len(LINESTYLES)],
                    marker="o",
                    markersize=3,
                    label=f"{vname}, n_total {n}",
                )
                if any(se):
                    lo = [a - 2 * b for a, b in zip(y, se, strict=True)]
                    hi = [a + 2 * b for a, b in zip(y, se, strict=True)]
                    ax.fill_between(x, lo, hi, color=color, alpha=0.15, linewidth=0)
                for xi, yi, c in zip(x, y, cells, strict=True):
                    if c.own:
                        ax.plot([xi], [yi], marker="*", markersize=12, color=color, zorder=5)
        if not _numeric(values):
            ax.set_xticks(x, list(result.labels[0]), rotation=20, fontsize=8)
        ax.set_xlabel(_axis_label(result.paths[0]), fontsize=9)
        ax.set_ylabel(name)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        title = f"{name} as the swept value varies\n(★ = the scenario's own value; bands ±2 SE)"
        ax.set_title(title, fontsize=9)
        _legend_below(fig, ax)
        return fig
    panels = [(v, n) for v in result.variants for n in result.n_total[v]]
    cols = min(len(result.variants), 3)
    rows = -(-len(panels) // cols)
    fig = _figure(1.6 + 4.0 * cols, 0.6 + 3.4 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    ny, nx = len(result.values[0]), len(result.values[1])
    image = None
    for k, (vname, n) in enumerate(panels):
        ax = axes[k // cols][k % cols]
        grid = [[getattr(result.cell(vname, (i, j), n).point, measure) for j in range(nx)]
                for i in range(ny)]  # fmt: skip
        image = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", origin="lower", aspect="auto")
        for i in range(ny):
            for j in range(nx):
                c = result.cell(vname, (i, j), n)
                value, se = getattr(c.point, measure), getattr(c.point, f"{measure}_se")
                text = f"{value:.2f}" + (f"\n±{se:.3f}" if se else "")
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if value < 0.6 else "black")  # fmt: skip
                if c.own:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                           edgecolor="#d62728", linewidth=2.5))  # fmt: skip
        ax.set_xticks(range(nx), list(result.labels[1]), fontsize=8)
        ax.set_yticks(range(ny), list(result.labels[0]), fontsize=8)
        ax.set_xlabel(_axis_label(result.paths[1], 45), fontsize=8)
        ax.set_ylabel(_axis_label(result.paths[0], 45), fontsize=8)
        ax.set_title(f"{vname}, n_total {n}", fontsize=9)
    for k in range(len(panels), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label=name)
    fig.suptitle(f"{name} over the sweep (outlined: the scenario's own values)", fontsize=10)
    return fig


def _axis_label(path: str, width: int = 60) -> str:
    """A swept parameter as an axis label: in words, then its path, wrapped."""
    import textwrap

    return textwrap.fill(describe_path(path), width)


def describe_path(path: str) -> str:
    """A parameter path in plain words, e.g. "share of patients who can respond at all, msc
    arm (arms.msc.response.ceiling)"."""
    from simtrial.report.narrative import MEANINGS, SCENARIO_MEANINGS

    parts = path.split(".")
    meaning = None
    if parts[0] == "arms" and len(parts) > 2:
        rest = re.sub(r"\[\d+\]", "", ".".join(parts[2:]))
        if rest in MEANINGS:
            meaning = f"{MEANINGS[rest]}, {parts[1]} arm"
    meaning = meaning or SCENARIO_MEANINGS.get(path)
    return f"{meaning} ({path})" if meaning else path


def _own_text(result: SweepResult, variant: str) -> str:
    marks = result.own[variant]
    given = [
        f"{p} = {result.labels[k][m]}"
        for k, (p, m) in enumerate(zip(result.paths, marks, strict=True))
        if m is not None
    ]
    missing = [p for p, m in zip(result.paths, marks, strict=True) if m is None]
    if not missing:
        return f"its own values ({', '.join(given)}) are the marked cell (★)"
    return f"its own value of {', '.join(missing)} is not among the values swept (no own cell)"


def sensitivity_html(result: Any, image: bytes | None = None) -> str:
    """The report section "Sensitivity" (HTML): what varies, the scenario's own cell, tables of
    power per cell and the figure."""
    import base64

    from simtrial.report.narrative import esc

    sw: SweepResult | None = getattr(result, "sweep", None)
    if sw is None:
        return (
            "<p>This scenario has no sensitivity sweep (add, e.g., <code>evaluate: {sweep: "
            "{arms.placebo.endpoint_probability: [0.15, 0.25, 0.35]}}</code> to the file).</p>"
        )
    what = " and ".join(
        f"the {esc(describe_path(p))} set to each of {esc(', '.join(sw.labels[k]))}"
        for k, p in enumerate(sw.paths)
    )
    sizes_text = sorted({n for ns in sw.n_total.values() for n in ns})
    texts = {v: _own_text(sw, v) for v in sw.variants}
    if len(set(texts.values())) == 1:
        every = "in every variant, " if len(texts) > 1 else ""
        own = every + esc(next(iter(texts.values())))
    else:
        own = "; ".join(f"in <b>{esc(v)}</b>, {esc(t)}" for v, t in texts.items())
    parts = [
        f"<p>How the results change when assumptions vary: every variant is re-run with {what} "
        f"({'every combination, ' if len(sw.paths) == 2 else ''}everything else as in the "
        f"scenario), at n_total {esc(', '.join(map(str, sizes_text)))}, with the "
        f"{esc(sw.engine)} engine and {sw.simulations} simulated trials per cell and purpose. "
        "Each cell uses the same random numbers as the scenario's own run (common random "
        "numbers), so differences between cells come from the values, not from chance, and "
        f"the cell with the scenario's own values reproduces the comparison table exactly: "
        f"{own}. Power is the chance of a significant result in the treatment's favour; "
        "± is one Monte Carlo standard error.</p>"
    ]
    for vname in sw.variants:
        for n in sw.n_total[vname]:
            parts.append(f"<h3>{esc(vname)}, n_total {n}: power</h3>{_html_table(sw, vname, n)}")
            cells = [c for c in sw.cells if c.variant == vname and c.n_total == n]
            lo = min(cells, key=lambda c: c.point.power)
            hi = max(cells, key=lambda c: c.point.power)
            parts.append(
                f"<p class='hint'>Power ranges from {lo.point.power:.3f} "
                f"({esc(_cell_values(sw, lo))}) to {hi.point.power:.3f} "
                f"({esc(_cell_values(sw, hi))}).</p>"
            )
    parts += _ranking(sw)
    if image is not None:
        encoded = base64.b64encode(image).decode("ascii")
        caption = (
            "Power (treatment better) in each cell of the sweep; the outlined cell has the "
            "scenario's own values; numbers: power and ± one Monte Carlo SE."
            if len(sw.paths) == 2
            else "Power (treatment better) against the swept value, one line per variant and "
            "n_total; bands ±2 Monte Carlo SE; ★ marks the scenario's own value."
        )
        parts.append(
            f"<figure><img alt='sweep.png' src='data:image/png;base64,{encoded}'>"
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
    return "".join(parts)


def _cell_values(sw: SweepResult, c: SweepCell) -> str:
    return ", ".join(f"{p} = {sw.labels[k][c.index[k]]}" for k, p in enumerate(sw.paths))


def _html_table(sw: SweepResult, vname: str, n: int) -> str:
    from simtrial.report.narrative import esc

    def td(c: SweepCell) -> str:
        p = c.point
        cls = "num best" if c.own else "num"
        mark = " ★" if c.own else ""
        return (
            f"<td class='{cls}' data-variant='{esc(vname)}' data-n='{n}' data-key='power' "
            f"data-value='{p.power!r}'>{esc(_pm(p.power, p.power_se))}{mark}</td>"
        )

    if len(sw.paths) == 2:
        head = f"<tr><th>{esc(sw.paths[0])} ↓ / {esc(sw.paths[1])} →</th>" + "".join(
            f"<th>{esc(label)}</th>" for label in sw.labels[1]
        )
        rows = [
            f"<tr><th>{esc(label)}</th>"
            + "".join(td(sw.cell(vname, (i, j), n)) for j in range(len(sw.labels[1])))
            + "</tr>"
            for i, label in enumerate(sw.labels[0])
        ]
        return f"<table>{head}</tr>{''.join(rows)}</table>"
    head = (
        f"<tr><th>{esc(sw.paths[0])}</th><th>power</th><th>type I error</th><th>assurance</th>"
        f"<th>P(endpoint) {esc(' / '.join(sw.arms))}</th></tr>"
    )
    rows = []
    for i, label in enumerate(sw.labels[0]):
        c = sw.cell(vname, (i,), n)
        p = c.point
        rows.append(
            f"<tr><th>{esc(label)}</th>{td(c)}<td class='num'>"
            f"{esc(_pm(p.type1_error, p.type1_error_se))}</td><td class='num'>"
            f"{esc(_pm(p.assurance, p.assurance_se))}</td><td class='num'>"
            f"{esc(' / '.join(f'{v:.2f}' for v in p.endpoint_probability.values()))}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _ranking(sw: SweepResult) -> list[str]:
    """With several variants: which has the highest power in how many cells, per n_total."""
    from simtrial.report.narrative import esc

    if len(sw.variants) < 2:
        return []
    out = []
    common = sorted(set.intersection(*(set(sw.n_total[v]) for v in sw.variants)))
    for n in common:
        wins: dict[str, int] = dict.fromkeys(sw.variants, 0)
        cells = [c.index for c in sw.cells if c.variant == sw.variants[0] and c.n_total == n]
        for index in cells:
            powers = {v: sw.cell(v, index, n).point.power for v in sw.variants}
            wins[max(powers, key=lambda v: powers[v])] += 1
        text = ", ".join(f"{esc(v)} in {k}" for v, k in wins.items() if k)
        out.append(
            f"<p>At n_total {n}, the variant with the highest power is: {text} of the "
            f"{len(cells)} cells.</p>"
        )
    return out


def sweep_text(result: SweepResult, measure: str = "power", width: int = 120) -> str:
    """The sweep's terminal tables as plain text."""
    import io

    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    for table in sweep_tables(result, measure):
        console.print(table)
    return console.export_text()
