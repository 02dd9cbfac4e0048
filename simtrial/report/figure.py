"""Figure conventions shared by every plot of the report: Agg figures without ``pyplot``
(no global state), the colour cycle, line styles, the legend under the axes, PNG bytes without
a timestamp (equal figures give equal bytes)."""

from __future__ import annotations

import io
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

COLORS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
)
CONTROL_COLOR = "#555555"
LINESTYLES = ("-", "--", "-.", ":")
REASON_COLORS = {
    "efficacy": "#2ca02c",
    "futility": "#ff7f0e",
    "safety": "#d62728",
    "harm": "#7f7f7f",  # a two-sided interim rejection with the control better
}
REASON_LABELS = {"harm": "harm (control better)"}
DPI = 150


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def _legend_below(fig: Figure, ax: Any) -> None:
    """The legend under the axes, outside them, so it never hides a curve."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ncol = 2 if len(handles) > 3 or max(len(t) for t in labels) > 30 else len(handles)
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=8)


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes (no timestamp metadata, so equal figures give equal bytes)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
