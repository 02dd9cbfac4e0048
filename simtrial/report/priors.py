"""A posterior report for biostatisticians: ``results/priors/<fit>/report.html``.

One self-contained file (images as base64 PNG, inline CSS, no script) with:

- the fit, its seed, sampler settings and diagnostics gate; the **studies** behind it (title,
  citation, the observations used and their verbatim quotes);
- the posterior summary table (median and 95% interval; log scale for rates; whether the mean
  is a usable point value);
- **trace** and **forest** plots of the contract variables;
- **posterior predictive checks per pilot**: the replicate distribution of each pilot
  statistic with the observed value;
- the **mixture approximations overlaid on the draws** (histogram, fitted mixture, robustified
  mixture), with their ESS;
- the **ESS of each prior used by a scenario** (``{prior: FIT/...}`` in ``scenarios/*.yaml``).

Uses ArviZ and Matplotlib (Agg); never PyMC.
"""

from __future__ import annotations

import base64
import html
import io
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from simtrial.atomic import atomic_write

__all__ = ["write_report"]

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.85em}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0} img{max-width:100%} .q{color:#555;font-style:italic}
.bad{color:#b00;font-weight:bold}
"""


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool | str):
        return str(x)
    x = float(x)
    if x != x:
        return "nan"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.3e}"
    return f"{x:.{digits}g}"


def _png(fig: Any, plt: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<figure><img alt='figure' src='data:image/png;base64,{data}'></figure>"


def _entries(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    rows = []
    for var, info in summary["variables"].items():
        if info["kind"] == "other":
            continue
        if info["dims"]:
            for label, stats in info["summary"].items():
                rows.append((f"{var}[{label}]", stats, info["kind"]))
        else:
            rows.append((var, info["summary"], info["kind"]))
    return rows


def _summary_table(summary: dict[str, Any]) -> str:
    head = (
        "<tr><th>variable</th><th>median</th><th>2.5%</th><th>97.5%</th><th>mean</th>"
        "<th>log-scale mean ± sd</th><th>tail k̂</th><th>point value</th><th>R-hat</th>"
        "<th>bulk ESS</th></tr>"
    )
    rows = []
    for name, s, _kind in _entries(summary):
        log = f"{_fmt(s['log_mean'], 3)} ± {_fmt(s['log_sd'], 3)}" if "log_mean" in s else "–"
        use = s.get("point_summary", "mean")
        cls = " class='bad'" if use == "median" else ""
        rows.append(
            f"<tr><td>{_esc(name)}</td><td>{_fmt(s['q50'])}</td><td>{_fmt(s['q025'])}</td>"
            f"<td>{_fmt(s['q975'])}</td><td>{_fmt(s['mean'])}</td><td>{log}</td>"
            f"<td>{_fmt(s.get('tail_khat'), 3)}</td><td{cls}>{use}</td>"
            f"<td>{_fmt(s['rhat'], 4)}</td><td>{_fmt(s['ess_bulk'], 4)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _studies(fit: str) -> str:
    from simtrial.priors.evidence import load_all

    name = "msc" if fit.startswith("msc") else fit
    parts = []
    for ev in load_all().values():
        used = [
            o for o in ev.observations_for(name) if not (fit == "msc_v1" and o.kind == "redosing")
        ]
        if not used:
            continue
        items = []
        for o in used:
            quote = o.quote + (
                f" … {o.responding_quote}" if getattr(o, "responding_quote", None) else ""
            )
            items.append(
                f"<li><b>{_esc(o.id)}</b> ({_esc(o.kind)}): <span class='q'>“{_esc(quote)}”</span>"
                + (
                    "<ul>" + "".join(f"<li>{_esc(a)}</li>" for a in o.assumptions) + "</ul>"
                    if o.assumptions
                    else ""
                )
                + "</li>"
            )
        parts.append(
            f"<h3>{_esc(ev.study)}</h3><p>{_esc(ev.title)}<br><small>{_esc(ev.citation)}; "
            f"indication {_esc(ev.indication)}</small></p><ul>{''.join(items)}</ul>"
        )
    return "".join(parts)


def _ppc(idata: Any, plt: Any) -> str:
    if "observed_data" not in idata.groups():
        return "<p>No posterior predictive group.</p>"
    panels: list[tuple[str, float, np.ndarray]] = []
    for name, obs in idata.observed_data.data_vars.items():
        pred = idata.posterior_predictive[name]
        dims = list(obs.dims)
        if not dims:
            panels.append((str(name), float(obs.values), pred.values.reshape(-1)))
            continue
        for i, label in enumerate(obs[dims[0]].values):
            panels.append(
                (str(label), float(obs.values[i]), pred.isel({dims[0]: i}).values.reshape(-1))
            )
    cols = 3
    rows = -(-len(panels) // cols)
    fig, axs = plt.subplots(rows, cols, figsize=(12, 2.6 * rows), squeeze=False)
    for ax, (label, observed, draws) in zip(axs.ravel(), panels, strict=False):
        discrete = np.allclose(draws, np.round(draws))
        if discrete:
            lo, hi = int(draws.min()), int(max(draws.max(), observed))
            ax.hist(draws, bins=np.arange(lo - 0.5, hi + 1.5), density=True, color="0.7")
        else:
            ax.hist(draws, bins=50, density=True, color="0.7")
        ax.axvline(observed, color="tab:red", lw=2)
        p = float(np.mean(draws <= observed))
        ax.set_title(
            f"{label.split(':')[-1]}\n{label.split(':')[0][:40]}  P(rep≤obs)={p:.2f}", fontsize=7
        )
        ax.tick_params(labelsize=7)
    for ax in axs.ravel()[len(panels) :]:
        ax.axis("off")
    fig.suptitle("posterior predictive replicates (grey) and the observed value (red)")
    fig.tight_layout()
    return _png(fig, plt)


def _mixtures(idata: Any, summary: dict[str, Any], plt: Any) -> str:
    from simtrial.priors.mixture import BetaMixture, GammaMixture

    entries = [e for e in _entries(summary) if "mixture" in e[1]]
    if not entries:
        return "<p>No mixture approximations.</p>"
    cols = 3
    rows = -(-len(entries) // cols)
    fig, axs = plt.subplots(rows, cols, figsize=(12, 2.5 * rows), squeeze=False)
    for ax, (name, s, _) in zip(axs.ravel(), entries, strict=False):
        m = re.match(r"^([^\[]+)(?:\[(.+)\])?$", name)
        assert m is not None
        da = idata.posterior[m[1]]
        if m[2] is not None:
            dim = [d for d in da.dims if d not in ("chain", "draw")][0]
            da = da.sel({dim: m[2]})
        x = np.asarray(da.values).reshape(-1)
        cls = BetaMixture if s["mixture_family"] == "beta" else GammaMixture
        mix = cls.from_dict(s["mixture"])
        robust = cls.from_dict(s["robust"]["mixture"])
        if cls is BetaMixture:
            lo, hi = 1e-4, 1 - 1e-4
        else:  # rates: the bulk of the draws; a shape < 1 component is infinite at 0
            lo, hi = (float(v) for v in np.quantile(x, [0.002, 0.99]))
        grid = np.linspace(lo, hi, 400)
        heights, _, _ = ax.hist(x[(x >= lo) & (x <= hi)], bins=60, density=True, color="0.8")
        ax.plot(grid, mix.pdf(grid), color="tab:blue", lw=1.5, label="mixture")
        ax.plot(grid, robust.pdf(grid), color="tab:orange", lw=1, ls="--", label="robust")
        ax.set_xlim(lo, hi)
        ax.set_ylim(0, 1.6 * float(np.max(heights)))
        ess = s.get("ess", {})
        ax.set_title(
            f"{name}\n{len(s['mixture'])} comp.; ESS elir {_fmt(ess.get('elir'), 3)}", fontsize=7
        )
        ax.tick_params(labelsize=7)
    axs.ravel()[0].legend(fontsize=7)
    for ax in axs.ravel()[len(entries) :]:
        ax.axis("off")
    fig.suptitle("posterior draws (grey), mixture approximation (blue), robustified (dashed)")
    fig.tight_layout()
    return _png(fig, plt)


def _scenario_ess(fit: str, summary: dict[str, Any], scenario_dir: Path) -> str:
    pattern = re.compile(
        r"prior:\s*\"?(" + re.escape(fit) + r")/([A-Za-z0-9_]+)(?:\[([A-Za-z0-9_]+)\])?"
    )
    rows = []
    for path in sorted(scenario_dir.glob("*.yaml")):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            for m in pattern.finditer(line):
                var, index = m[2], m[3]
                info = summary["variables"].get(var)
                if info is None:
                    rows.append(
                        f"<tr><td>{_esc(path.name)}:{lineno}</td><td>{_esc(m[0])}</td>"
                        "<td colspan='6' class='bad'>not in this fit</td></tr>"
                    )
                    continue
                s = info["summary"][index] if index is not None else info["summary"]
                ess, robust = s.get("ess", {}), s.get("robust", {}).get("ess", {})
                ref = f"{fit}/{var}" + (f"[{index}]" if index else "")
                rows.append(
                    f"<tr><td>{_esc(path.name)}:{lineno}</td><td>{_esc(ref)}</td>"
                    f"<td>{_fmt(ess.get('elir'), 3)}</td><td>{_fmt(ess.get('moment'), 3)}</td>"
                    f"<td>{_fmt(ess.get('morita'), 3)}</td><td>{_fmt(robust.get('elir'), 3)}</td>"
                    f"<td>{_esc(s.get('point_summary', 'mean'))}</td></tr>"
                )
    if not rows:
        return "<p>No shipped scenario uses this fit.</p>"
    head = (
        "<tr><th>scenario:line</th><th>prior</th><th>ESS elir</th><th>moment</th>"
        "<th>morita</th><th>robust ESS elir</th><th>point value</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def write_report(
    fit: str,
    directory: str | Path | None = None,
    out_dir: str | Path | None = None,
    scenario_dir: str | Path = "scenarios",
) -> Path:
    """Write ``<out_dir>/report.html`` (default ``results/priors/<fit>/``) and return its path."""
    import arviz as az
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simtrial.priors import store
    from simtrial.report.prior_plots import _contract_variables

    summary = store.summary(fit, directory)
    idata = az.from_netcdf(store._path(fit, directory, ".nc"))
    names = _contract_variables(summary, idata)
    out = Path(out_dir) if out_dir is not None else Path("results") / "priors" / fit
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # ArviZ 0.23 calls a Matplotlib 3.11 API that is deprecated; harmless, not actionable
        warnings.filterwarnings(
            "ignore", message="Passing a dict or None as alias_mapping", category=DeprecationWarning
        )
        scalars = [v for v in names if idata.posterior[v].ndim == 2]
        vectors = [v for v in names if idata.posterior[v].ndim > 2]
        trace_vars = vectors + scalars
        axes = az.plot_trace(
            idata, var_names=trace_vars, compact=True, figsize=(11, 1.8 * len(trace_vars))
        )
        trace = _png(np.ravel(axes)[0].figure, plt)
        fig, axs = plt.subplots(
            1, max(1, len(vectors)), figsize=(6.5 * max(1, len(vectors)), 4), squeeze=False
        )
        for ax, var in zip(axs[0], vectors or names[:1], strict=False):
            group = [var] + [v for v in names if v.startswith(f"{var}_new")]
            az.plot_forest(idata, var_names=group, combined=True, hdi_prob=0.95, ax=ax, textsize=8)
            ax.set_title(var)
        fig.tight_layout()
        forest = _png(fig, plt)
        ppc = _ppc(idata, plt)
        mixtures = _mixtures(idata, summary, plt)
    d = summary["diagnostics"]
    attrs = "".join(
        f"<li>{_esc(k.removeprefix('simtrial_'))}: {_esc(v)}</li>"
        for k, v in summary.get("model", {}).items()
    )
    body = f"""
<h1>Posterior report: {_esc(fit)}</h1>
<p>{_esc(summary.get("description", ""))}</p>
<p>{summary["chains"]} chains × {summary["draws"]} draws ({summary["tune"]} tuning), seed
{summary["seed"]}, target_accept {summary["target_accept"]}. Diagnostics gate (R-hat ≤ 1.01,
bulk ESS ≥ 400, no divergences): max R-hat {_fmt(d["max_rhat"])}, min bulk ESS
{_fmt(d["min_ess_bulk"])}, divergences {d["divergences"]}.</p>
<ul>{attrs}</ul>
<h2>Posterior summary</h2>
<p>Rates are summarised on the log scale; “point value” says which single number a plug-in
calculation may use: the mean, or the median when the draws are so heavy-tailed (Pareto k̂ of
the right tail ≥ 0.7) that the mean is not usable (<code>mean_usable</code> in
<code>{_esc(fit)}.json</code>).</p>
{_summary_table(summary)}
<h2>Traces</h2>{trace}
<h2>Forest (95% intervals)</h2>{forest}
<h2>Posterior predictive checks per pilot</h2>{ppc}
<h2>Mixture approximations over the draws</h2>{mixtures}
<h2>ESS of the priors used by the shipped scenarios</h2>
{_scenario_ess(fit, summary, Path(scenario_dir))}
<h2>Studies</h2>{_studies(fit)}
"""
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_esc(fit)} posterior"
        f"</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
    )
    path = out / "report.html"
    atomic_write(path, page)
    return path
