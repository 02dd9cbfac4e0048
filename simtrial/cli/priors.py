"""``simtrial priors fit|show|plot|compare|report``: the priors sub-commands (Typer ``app``).

- ``fit [FIT...]``: sample the fits (default: all), check diagnostics, write
  ``priors/fitted/<fit>.nc`` and ``<fit>.json``; PyMC's progress bars on a terminal.
- ``show FIT[/VAR[INDEX]] [--json]``: the summary of a fit, a variable or one index.
- ``plot FIT``: trace, posterior, forest and predictive-check plots under
  ``results/priors/<fit>/``.
- ``compare``: ``msc`` (v2) against ``msc_v1`` — ELPD, predictive checks per pilot and the
  prior sensitivity of the shipped scenarios, in ``results/priors/compare.{json,md}``.
- ``report FIT``: a self-contained HTML posterior report, ``results/priors/<fit>/report.html``.

Errors (unknown fit, missing file, failed diagnostics) print one message with exit status 2.
Importing this module does not import PyMC; only ``fit`` does.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from simtrial.errors import PriorError, SimtrialError

app = typer.Typer(
    help="Fit, show and plot the Bayesian priors (priors/fitted/).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_REF = re.compile(r"^(?P<fit>[A-Za-z0-9_]+)(?:/(?P<var>[A-Za-z0-9_]+)(?:\[(?P<index>[^\]]+)\])?)?$")
_FIT_NAMES = ("msc", "msc_v1", "as_placebo", "uc_control")


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


@app.command("fit")
def fit_cmd(
    fits: Annotated[
        list[str] | None,
        typer.Argument(help=f"Fits to run (default: all of {', '.join(_FIT_NAMES)})."),
    ] = None,
    cores: Annotated[
        int, typer.Option(help="Processes for the chains (draws do not depend on it).")
    ] = 2,
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default priors/fitted).")
    ] = None,
    evidence: Annotated[
        Path | None, typer.Option(help="Evidence directory (default priors/evidence).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    summary_only: Annotated[
        bool,
        typer.Option(
            "--summary-only",
            help="Only rebuild <fit>.json from the existing <fit>.nc (no sampling), e.g. after "
            "the mixture or ESS code changed.",
        ),
    ] = False,
) -> None:
    """Fit priors from the evidence files; fail loudly if the diagnostics gate fails."""
    try:
        from simtrial.priors.fitting import FITS, fit_prior, write_summary

        names = fits or list(FITS)
        unknown = [n for n in names if n not in FITS]
        if unknown:
            raise PriorError(
                f"unknown fit(s) {', '.join(unknown)}; the fits are: {', '.join(FITS)}"
            )
        if summary_only:
            for name in names:
                typer.echo(str(write_summary(name, out)))
            return
        for i, name in enumerate(names, 1):
            typer.echo(f"[{i}/{len(names)}] fitting {name}", err=True)
            result = fit_prior(
                name,
                evidence_dir=evidence,
                out_dir=out,
                cores=cores,
                progressbar=progress and sys.stderr.isatty(),
                log=lambda line: typer.echo(f"  {line}", err=True),
            )
            typer.echo(str(result))
    except SimtrialError as exc:
        _fail(exc)


def _parse(ref: str) -> tuple[str, str | None, str | None]:
    m = _REF.fullmatch(ref.strip())
    if not m:
        raise PriorError(f"cannot read {ref!r}; write FIT, FIT/VAR or FIT/VAR[INDEX]")
    return m["fit"], m["var"], m["index"]


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if x != x:
        return "nan"
    if 100 <= abs(x) < 1e6:
        return f"{x:.0f}"
    return f"{x:.4g}"


_COLUMNS = ("mean", "sd", "q025", "q50", "q975", "rhat", "ess_bulk", "ess_tail", "point_summary")


def _rows(var: str, info: dict[str, Any], index: str | None) -> list[tuple[str, dict[str, Any]]]:
    if not info["dims"]:
        return [(var, info["summary"])]
    labels = list(info["summary"])
    if index is not None:
        return [(f"{var}[{index}]", info["summary"][index])]
    return [(f"{var}[{label}]", info["summary"][label]) for label in labels]


def _table(rows: list[tuple[str, dict[str, Any]]], details: bool) -> str:
    width = max(len(r[0]) for r in rows)
    heads = [c if c != "point_summary" else "use" for c in _COLUMNS]
    lines = [f"{'':{width}}  " + "  ".join(f"{c:>9}" for c in heads)]
    for name, stats in rows:
        cells = []
        for c in _COLUMNS:
            value = stats.get(c)
            cells.append(f"{value if isinstance(value, str) else _fmt(value):>9}")
        lines.append(f"{name:{width}}  " + "  ".join(cells))
    if any(stats.get("mean_usable") is False for _, stats in rows):
        lines.append(
            "use = median: the draws are heavy-tailed (Pareto k̂ of the right tail >= 0.7), so "
            "the mean is not a usable point value; give medians or intervals"
        )
    if details:
        for name, stats in rows:
            if "log_q50" in stats:
                lines.append(
                    f"\n{name}: log scale mean {_fmt(stats['log_mean'])}, sd "
                    f"{_fmt(stats['log_sd'])}, 95% interval {_fmt(stats['log_q025'])} to "
                    f"{_fmt(stats['log_q975'])}; median {_fmt(stats['q50'])} (mean duration "
                    f"1/median {_fmt(1 / stats['q50'])} weeks); tail k̂ "
                    f"{_fmt(stats.get('tail_khat'))}"
                )
            if "mixture" not in stats:
                continue
            family = stats.get("mixture_family", "beta")
            comps = ", ".join(
                f"{c['weight']:.3f}·{family.title()}({c['a']:.3g}, {c['b']:.3g})"
                for c in stats["mixture"]
            )
            lines.append(f"\n{name}: mixture {comps}")
            if stats.get("ess"):
                ess = stats["ess"]
                lines.append(
                    "  ESS: "
                    + ", ".join(f"{k} {_fmt(ess.get(k))}" for k in ("elir", "moment", "morita"))
                )
            robust = stats.get("robust")
            if robust and robust.get("ess"):
                lines.append(
                    f"  robustified (weight {robust['weight']}, mean {_fmt(robust['mean'])}) ESS: "
                    + ", ".join(
                        f"{k} {_fmt(robust['ess'].get(k))}" for k in ("elir", "moment", "morita")
                    )
                )
    return "\n".join(lines)


@app.command("show")
def show_cmd(
    ref: Annotated[str, typer.Argument(help="FIT, FIT/VAR or FIT/VAR[INDEX], e.g. msc/induction.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Fitted priors directory (default priors/fitted).")
    ] = None,
) -> None:
    """Show a fit's summary: diagnostics and variables, or one variable in detail."""
    from simtrial.priors import store

    try:
        fit, var, index = _parse(ref)
        store.check_fit(fit, directory)
        summary = store.summary(fit, directory)
        if var is None:
            if as_json:
                typer.echo(json.dumps(summary, indent=1))
                return
            d = summary["diagnostics"]
            typer.echo(
                f"{fit}: {summary.get('description', '')}\n"
                f"{summary['chains']} chains x {summary['draws']} draws, "
                f"seed {summary.get('seed', '-')}; "
                f"max R-hat {_fmt(d.get('max_rhat'))}, min bulk ESS {_fmt(d.get('min_ess_bulk'))}, "
                f"divergences {d.get('divergences', '-')}\n"
            )
            rows = [
                row
                for name, info in summary["variables"].items()
                if info["kind"] != "other"
                for row in _rows(name, info, None)
            ]
            typer.echo(_table(rows, details=False))
            others = [n for n, i in summary["variables"].items() if i["kind"] == "other"]
            if others:
                typer.echo(f"\nalso in the posterior: {', '.join(others)}")
            return
        pos = store.resolve_index(fit, var, index, directory) if index is not None else None
        info = summary["variables"][var] if var in summary["variables"] else None
        if info is None:
            store.resolve_index(fit, var, None, directory)  # raises the "no variable" error
            raise PriorError(f"{fit}/{var} is not in the summary")
        label = info["coords"][info["dims"][0]][pos] if pos is not None else None
        if as_json:
            payload = info["summary"] if label is None else info["summary"][label]
            typer.echo(json.dumps(payload, indent=1))
            return
        typer.echo(_table(_rows(var, info, label), details=True))
    except SimtrialError as exc:
        _fail(exc)


@app.command("plot")
def plot_cmd(
    fit: Annotated[str, typer.Argument(help="Fit name, e.g. msc.")],
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default results/priors/FIT).")
    ] = None,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Fitted priors directory (default priors/fitted).")
    ] = None,
) -> None:
    """Write trace, posterior, forest and predictive-check plots."""
    try:
        from simtrial.report.prior_plots import plot_fit

        for path in plot_fit(fit, directory=directory, out_dir=out):
            typer.echo(str(path))
    except SimtrialError as exc:
        _fail(exc)


@app.command("compare")
def compare_cmd(
    out: Annotated[
        Path, typer.Option(help="Output directory for compare.json and compare.md.")
    ] = Path("results/priors"),
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Fitted priors directory (default priors/fitted).")
    ] = None,
    scenarios: Annotated[
        list[Path] | None,
        typer.Option(
            "--scenario",
            help="Scenario files for the sensitivity table (default scenarios/*.yaml).",
        ),
    ] = None,
) -> None:
    """Compare msc (v2) with msc_v1: ELPD, predictive checks per pilot, prior sensitivity."""
    try:
        from simtrial.planning.prior_compare import compare_fits

        for path in compare_fits(directory, out, scenarios):
            typer.echo(str(path))
    except SimtrialError as exc:
        _fail(exc)


@app.command("report")
def report_cmd(
    fit: Annotated[str, typer.Argument(help="Fit name, e.g. msc.")],
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default results/priors/FIT).")
    ] = None,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Fitted priors directory (default priors/fitted).")
    ] = None,
) -> None:
    """Write a self-contained HTML posterior report (traces, forest, PPC, mixtures, ESS)."""
    try:
        from simtrial.report.priors import write_report

        typer.echo(str(write_report(fit, directory=directory, out_dir=out)))
    except SimtrialError as exc:
        _fail(exc)
