"""Plots of a fitted prior: trace, posterior, forest and posterior predictive check.

``plot_fit("msc")`` writes under ``results/priors/msc/``:

- ``trace.png``: ArviZ trace plot of the contract variables (chains overlaid);
- ``posterior.png``: their marginal posteriors with 95% HDI;
- ``forest.png``: one panel per indexed variable, side by side (for ``msc``: ``induction`` and
  ``loss_per_week`` per indication, with the ``*_new`` prediction for a new indication);
- ``ppc.png``: each observed count against its posterior predictive 50% and 95% intervals.

Uses ArviZ and Matplotlib (Agg backend); never PyMC.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from simtrial.atomic import atomic_write_with
from simtrial.errors import PriorError

__all__ = ["plot_fit"]


def _contract_variables(summary: dict[str, Any] | None, idata: Any) -> list[str]:
    if summary is not None:
        names = [v for v, info in summary["variables"].items() if info["kind"] != "other"]
        if names:
            return names
    return [str(v) for v in idata.posterior.data_vars]


def plot_fit(
    fit: str, directory: str | Path | None = None, out_dir: str | Path | None = None
) -> list[Path]:
    """Write the four plots of ``fit``; return their paths.

    Parameters
    ----------
    fit : str
        Fit name (``priors/fitted/<fit>.nc``).
    directory : path, optional
        Directory of the fitted priors (default :func:`simtrial.priors.store.fitted_dir`).
    out_dir : path, optional
        Default ``results/priors/<fit>`` (relative to the working directory).
    """
    import arviz as az
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simtrial.priors import store

    with warnings.catch_warnings():
        # ArviZ 0.23 calls a Matplotlib 3.11 API that is deprecated; harmless, not actionable
        warnings.filterwarnings(
            "ignore", message="Passing a dict or None as alias_mapping", category=DeprecationWarning
        )
        return _plot_fit(fit, directory, out_dir, az, plt, store)


def _plot_fit(
    fit: str,
    directory: str | Path | None,
    out_dir: str | Path | None,
    az: Any,
    plt: Any,
    store: Any,
) -> list[Path]:
    nc = store._path(fit, directory, ".nc")
    summary = store._read_summary(fit, directory)
    store._read_posterior(fit, directory)  # one clear message for a corrupt or foreign file
    try:
        idata = az.from_netcdf(nc)
    except Exception as exc:  # noqa: BLE001 - h5py, xarray and netCDF raise many kinds
        raise PriorError(f"cannot read the fitted prior {nc}: {exc}") from None
    out = Path(out_dir) if out_dir is not None else Path("results") / "priors" / fit
    out.mkdir(parents=True, exist_ok=True)
    names = _contract_variables(summary, idata)
    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        path = out / name
        atomic_write_with(
            path, lambda tmp: fig.savefig(tmp, format="png", dpi=90, bbox_inches="tight")
        )
        plt.close(fig)
        written.append(path)

    axes = az.plot_trace(idata, var_names=names, compact=True, figsize=(10, 2.0 * len(names)))
    save(np.ravel(axes)[0].figure, "trace.png")

    axes = az.plot_posterior(idata, var_names=names, hdi_prob=0.95, textsize=8)
    save(np.ravel(axes)[0].figure, "posterior.png")

    vector = [v for v in names if idata.posterior[v].ndim > 2]
    panels = vector or names
    fig, axs = plt.subplots(1, len(panels), figsize=(7.0 * len(panels), 4.0), squeeze=False)
    for ax, var in zip(axs[0], panels, strict=True):
        group = [var] + ([f"{var}_new"] if f"{var}_new" in idata.posterior else [])
        az.plot_forest(idata, var_names=group, combined=True, hdi_prob=0.95, ax=ax, textsize=8)
        ax.set_title(var)
    fig.suptitle(f"{fit}: posterior 95% intervals")
    fig.tight_layout()
    save(fig, "forest.png")

    save(_ppc_figure(idata, fit, plt), "ppc.png")
    return written


def _ppc_figure(idata: Any, fit: str, plt: Any) -> Any:
    """Observed value of every observation against its posterior predictive intervals."""
    rows: list[tuple[str, float, np.ndarray]] = []
    for name, obs in idata.observed_data.data_vars.items():
        pred = idata.posterior_predictive[name]
        dims = [d for d in obs.dims]
        if not dims:
            rows.append((str(name), float(obs.values), pred.values.reshape(-1)))
            continue
        for i, label in enumerate(obs[dims[0]].values):
            draws = pred.isel({dims[0]: i}).values.reshape(-1)
            rows.append((f"{name}: {label}", float(obs.values[i]), draws))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    for y, (_, observed, draws) in enumerate(rows):
        lo95, lo50, hi50, hi95 = np.quantile(draws, [0.025, 0.25, 0.75, 0.975])
        ax.plot([lo95, hi95], [y, y], color="0.6", lw=2)
        ax.plot([lo50, hi50], [y, y], color="0.2", lw=4)
        ax.plot([observed], [y], "o", color="tab:red")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(
        "count (or observed value); grey 95%, black 50% posterior predictive; red observed"
    )
    ax.set_title(f"{fit}: posterior predictive check")
    return fig
