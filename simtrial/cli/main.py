"""Command line: ``simtrial validate``, ``simtrial run``, ``simtrial priors ...``.

Every error a user can cause (a bad scenario, a missing fit, an unsupported feature) is printed
as one message on stderr with exit status 2 — never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from simtrial.errors import SimtrialError

app = typer.Typer(
    help="Plan trials of repeated MSC infusions: priors from pilot studies, simulated trials, "
    "power, assurance and schedule comparison.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False)


def _version_callback(value: bool) -> None:
    if value:
        from simtrial.planning.power import _version

        out.print(f"simtrial {_version()}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Plan trials of repeated MSC infusions: priors from pilot studies, simulated trials,
    power, assurance and schedule comparison."""


def _error(exc: Exception) -> None:
    """One message on stderr (no markup: field paths contain brackets)."""
    err.print(Text("error: ", style="bold red") + Text(str(exc)))


def _load(file: Path) -> Any:
    """Load a scenario, printing its :class:`~simtrial.errors.ScenarioWarning` as one line each."""
    import warnings

    from simtrial.errors import ScenarioWarning
    from simtrial.scenario.load import load_scenario

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScenarioWarning)
        scenarios = load_scenario(file)
    seen: set[str] = set()
    for warning in caught:
        if issubclass(warning.category, ScenarioWarning):
            if str(warning.message) in seen:  # the same base value in every variant
                continue
            seen.add(str(warning.message))
            err.print(Text("warning: ", style="bold yellow") + Text(str(warning.message)))
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return scenarios


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
) -> None:
    """Check scenario files; print one line per file."""
    failed = 0
    for file in files:
        try:
            scenarios = _load(file)
        except SimtrialError as exc:
            _error(exc)
            failed += 1
            continue
        names = ", ".join(scenarios.variants)
        out.print(f"{file}: ok ({scenarios.name}; variants: {names})")
    if failed:
        raise typer.Exit(2)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    engine: Annotated[
        str | None,
        typer.Option(
            help="exact | vectorized | des (default: vectorized; des for a scenario with "
            "an operations block)."
        ),
    ] = None,
    simulations: Annotated[
        int | None, typer.Option(min=1, help="Simulated trials per point (overrides the file).")
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed (overrides the file).")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output directory (default results/<name>/).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Local worker processes.")] = 1,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a Dask distributed scheduler.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table, no progress.")] = False,
    trace: Annotated[
        int,
        typer.Option(
            min=0,
            help="des engine: also write events.csv, the event log of the first K simulated "
            "trials of each variant and n_total.",
        ),
    ] = 0,
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Skip the plots (PNG) and report.html.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Run even when the estimated memory (2 GiB) or work (2e10 patient journeys) "
            "is over the limit.",
        ),
    ] = False,
) -> None:
    """Simulate a scenario and write results/<name>/: summary.json, points.csv, plots (PNG)
    and report.html."""
    from simtrial.engines import default_engine
    from simtrial.planning.estimate import check_run
    from simtrial.planning.parallel import make_executor
    from simtrial.planning.power import run as run_scenarios
    from simtrial.planning.power import total_work
    from simtrial.report.files import OutputDir
    from simtrial.report.table import result_table, write_outputs

    scenarios = _load(file)
    engine_name = engine or default_engine(scenarios)
    if trace and engine_name != "des":
        raise SimtrialError(
            f"--trace needs the des engine (got --engine {engine_name}); add --engine des"
        )
    sims = simulations if simulations is not None else scenarios.base.simulations
    target = out_dir if out_dir is not None else Path("results") / scenarios.name
    check_run(scenarios, engine_name, sims, force, trace)
    output = OutputDir(target)
    output.check()
    show_progress = not quiet and sys.stderr.isatty()
    executor = make_executor(workers, scheduler)
    try:
        if show_progress:
            from rich.progress import Progress

            with Progress(console=err, transient=True) as bar:
                task = bar.add_task("simulating", total=total_work(scenarios, engine_name, sims))
                result = run_scenarios(
                    scenarios,
                    engine=engine_name,
                    simulations=sims,
                    seed=seed,
                    progress=lambda k: bar.advance(task, k),
                    executor=executor,
                )
        else:
            result = run_scenarios(
                scenarios, engine=engine_name, simulations=sims, seed=seed, executor=executor
            )
    finally:
        if executor is not None:
            executor.close()
    with output as staging:
        paths = write_outputs(result, staging)
        if trace:
            paths.append(_write_trace(scenarios, trace, result.seed, staging))
        if not no_report:
            from simtrial.report.html import write_report
            from simtrial.report.plots import render_plots, write_plots

            images = render_plots(result, scenarios)
            paths += write_plots(result, scenarios, staging, images=images)
            command = _command(file, engine, simulations, seed, out_dir, trace)
            paths.append(write_report(result, scenarios, staging, images=images, command=command))
        paths = [output.final(p) for p in paths]
        output.publish()
    if not quiet:
        from simtrial.report.design import terminal_summary

        if result.design is not None:
            out.print(terminal_summary(result.design))
        # a variant wider than the terminal is printed whole (lines longer), never cut
        out.print(result_table(result, width=out.width), crop=False)
        if result.sweep is not None:
            from simtrial.report.sweep import sweep_tables

            for table in sweep_tables(result.sweep):
                out.print(table, crop=False)
        for name, variant in result.variants.items():
            size = variant.sample_size
            if size is None:
                continue
            if size.get("n_total") is None:
                out.print(f"sample size ({name}): {size['note']}")
            else:
                first = size.get("n_total_first")
                dip = f"; first reached at {first}" if first and first != size["n_total"] else ""
                out.print(
                    f"sample size ({name}): n_total {size['n_total']} for {size['target']} "
                    f"(treatment better) >= {size['goal']:g} (achieved {size['achieved']:.3f} "
                    f"± {size['se']:.3f}{dip}); rule: {size['rule']}"
                )
        from simtrial.report.curves import terminal_lines

        for line in terminal_lines(result):
            out.print(line, soft_wrap=True)
        out.print(f"wrote {', '.join(str(p) for p in paths)}")


def _command(
    file: Path,
    engine: str | None,
    simulations: int | None,
    seed: int | None,
    out_dir: Path | None,
    trace: int,
) -> str:
    """The ``simtrial run`` command line that reproduces this run (for the report)."""
    import shlex

    words = ["simtrial", "run", str(file)]
    for flag, value in (
        ("--engine", engine),
        ("--simulations", simulations),
        ("--seed", seed),
        ("--out", out_dir),
        ("--trace", trace or None),
    ):
        if value is not None:
            words += [flag, str(value)]
    return shlex.join(words)


def _write_trace(scenarios: Any, trials: int, seed: int, target: Path) -> Path:
    """Write ``events.csv``: the first ``trials`` power trials of every variant and point."""
    from simtrial.atomic import atomic_write
    from simtrial.engines.des import DESEngine
    from simtrial.report.table import events_csv

    engine = DESEngine()
    rows = []
    for name, scenario in scenarios.variants.items():
        for n_total in scenario.evaluate.n_total:
            for row in engine.trace(scenario, name, n_total, trials, seed):
                rows.append((*row, name, n_total))
    path = target / "events.csv"
    atomic_write(path, events_csv(rows))
    return path


def _mount_priors() -> None:
    try:
        from simtrial.cli.priors import app as priors_app
    except ImportError:  # the priors layer is optional at run time
        return
    app.add_typer(priors_app, name="priors", help="Fit, show and plot the Bayesian priors.")


_mount_priors()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning :class:`SimtrialError` into exit status 2."""
    try:
        code = app(args=argv, standalone_mode=False)
    except SimtrialError as exc:
        _error(exc)
        return 2
    except typer.Exit as exc:
        if exc.exit_code == 130:
            err.print("interrupted; nothing written")
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        err.print("interrupted; nothing written")
        return 130
    except Exception as exc:  # usage errors (bad option values, unknown options)
        show = getattr(exc, "show", None)
        if show is not None and hasattr(exc, "exit_code"):
            show(file=sys.stderr)
            return 2
        raise
    if code == 130:  # typer turns Ctrl-C into a returned 130, silently
        err.print("interrupted; nothing written")
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
