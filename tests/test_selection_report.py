"""Wording of the selection design's figure and report section (issue 9e): 'selected' means
the trial went on past the interim with that arm, so a trial that stops there for success
selects none and 'shown better' can exceed 'selected'; the reader is told so."""

from __future__ import annotations

from pathlib import Path

import pytest

from simtrial import load_scenario
from simtrial.planning.power import run
from simtrial.report.selection import CAPTION, figure, section_html

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def result():
    return run(load_scenario(ROOT / "scenarios" / "as-mams.yaml"), simulations=60)


def test_figure_legend_and_axis_say_what_selected_means(result):
    fig = figure(result)
    labels = fig.legends[0].get_texts()
    texts = [t.get_text() for t in labels]
    assert "monthly_x6: selected to continue" in texts
    assert "monthly_x6: selected" not in texts
    assert "FWER (every arm like the control)" in texts
    assert fig.axes[0].get_xlabel() == "patients randomised in total (n_total)"
    assert fig.axes[0].get_title() == ""  # no variants in the file: not titled "base"
    # the longer labels still fit inside the figure (not cut at its edges)
    fig.canvas.draw()
    box, page = fig.legends[0].get_window_extent(), fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1
    assert "stops for success at the interim selects no arm" in CAPTION
    assert "shown better more often than it is selected" in CAPTION


def test_report_section_explains_selected_and_shown_better(result):
    html = section_html(result)
    assert "<td>selected to continue</td>" in html
    assert "a trial that stops at the interim for success selects no arm" in html
    assert "more often than it is selected" in html
