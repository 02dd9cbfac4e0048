"""Lay out the results table for a terminal of a given width, never truncating.

The table has two label columns (``n_total`` and the measure) and one column per variant.
rich shrinks columns that do not fit and then wraps or ellipsizes their text; here every
column is sized to its longest text instead (no wrapping, no ellipsis) and, when the variants
do not fit side by side in ``width``, they are split into several tables of as many variants
as fit, each repeating the label columns (a variant's column is never split). Only a label
column wider than the terminal by itself would still fold.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table

__all__ = ["table_width", "variant_tables"]

Row = tuple[str, str, Sequence[str], bool]  # n_total label, measure label, cells, ends a section


def table_width(columns: Sequence[int]) -> int:
    """Characters a rich table with the default box takes for columns of these text widths:
    one space of padding either side of each column and one rule between and around them."""
    return sum(w + 2 for w in columns) + len(columns) + 1


def _groups(label_widths: Sequence[int], widths: Sequence[int], width: int | None) -> list[range]:
    if width is None:
        return [range(len(widths))]
    groups: list[range] = []
    start = 0
    while start < len(widths):
        stop = start + 1
        while stop < len(widths) and (
            table_width([*label_widths, *widths[start : stop + 1]]) <= width
        ):
            stop += 1
        groups.append(range(start, stop))
        start = stop
    return groups


def variant_tables(
    title: str,
    caption: str,
    headers: Sequence[str],
    names: Sequence[str],
    rows: Sequence[Row],
    width: int | None = None,
) -> Group:
    """One or several tables with ``headers`` (the two label columns) and the ``names`` columns.

    Parameters
    ----------
    title, caption : str
        Of the whole table (the caption goes under the last part).
    headers : two str
        Headers of the label columns.
    names : str
        The variants, one column each.
    rows : (n label, measure label, cells, ends a section)
        ``cells`` in the order of ``names``.
    width : int, optional
        The terminal width; ``None``: one table, whatever its width.
    """
    label_widths = [
        max([len(headers[0])] + [len(r[0]) for r in rows]),
        max([len(headers[1])] + [len(r[1]) for r in rows]),
    ]
    widths = [max([len(name)] + [len(r[2][j]) for r in rows]) for j, name in enumerate(names)]
    groups = _groups(label_widths, widths, width)
    tables = []
    for g, group in enumerate(groups):
        part = (
            f" (variants {group.start + 1}–{group.stop} of {len(names)})" if len(groups) > 1 else ""
        )
        table = Table(title=title + part, title_justify="left")
        table.add_column(headers[0], justify="right", no_wrap=True, min_width=label_widths[0])
        table.add_column(headers[1], no_wrap=True, min_width=label_widths[1], overflow="fold")
        for j in group:
            table.add_column(names[j], justify="right", no_wrap=True, min_width=widths[j])
        for n_label, label, cells, end in rows:
            table.add_row(n_label, label, *(cells[j] for j in group), end_section=end)
        if g == len(groups) - 1:
            table.caption = caption
            table.caption_justify = "left"
        tables.append(table)
    return Group(*tables)
