r"""``msc`` v2 against ``msc_v1``: predictive accuracy, predictive checks, prior sensitivity.

:func:`compare_fits` (``simtrial priors compare``) writes ``results/priors/compare.json`` and
``compare.md`` with three parts.

1. **ELPD** (expected log pointwise predictive density, Vehtari, Gelman & Gabry 2017, Stat
   Comput 27:1413) of each model on the same pilot data: every observation of the ``msc``
   evidence, each scored by each model's own likelihood for it
   (:func:`simtrial.priors.likelihood.pilot_terms`). For observations in a model's likelihood,
   PSIS-LOO (``arviz.loo``, with the Pareto k̂ of each point); for observations a model did not
   use (v1 did not use the JIA re-dosing and one-year counts) the log predictive density of the
   full posterior, which is then an honest out-of-sample score. The difference has
   SE :math:`\sqrt{n\,\mathrm{Var}(\mathrm{elpd}^{v2}_i - \mathrm{elpd}^{v1}_i)}`. With one
   observation per pilot and indication-level parameters, leaving a pilot out removes most of
   the information on its indication: k̂ above 0.7 flags the points where PSIS-LOO is not
   reliable, and the per-pilot predictive checks are then the better guide.
2. **Posterior predictive checks** per pilot statistic: observed value, 95% predictive interval,
   P(replicate <= observed), and whether the interval covers it; coverage per model. Two checks
   are outside both likelihoods: SLE 28/68 in remission at 5 years, and the ASDAS-CRP retained
   improvement at week 20, (3.6 - 3.2)/(3.6 - 2.4) = 1/3, against exp(-16 λ_AS).
3. **Prior sensitivity** of the shipped scenarios: the ``msc`` posterior is re-weighted by
   Pareto-smoothed importance sampling (Vehtari et al. 2024, JMLR 25(72); k̂ reported) to a
   different pooling-prior scale (half-normal 0.5, 2), ceiling prior (Beta(1, 1), Beta(6, 2),
   Beta(19, 1)), or conditioned on one onset (1-4 weeks, weights p(d | θ, y) — exact, no
   smoothing needed). For each scenario variant whose endpoint has a closed form: the MSC
   arm's endpoint probability at the posterior means (what *power* uses), its posterior mean
   (what *assurance* averages), and, where the exact engine applies, power and assurance at
   the scenario's largest ``n_total``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special, stats

from simtrial.atomic import atomic_write
from simtrial.errors import PriorError

__all__ = ["compare_fits", "elpd", "posterior_checks", "sensitivity", "to_markdown"]


def _load(fit: str, directory: Path | str | None) -> Any:
    import arviz as az

    from simtrial.priors.store import fitted_dir

    path = Path(directory or fitted_dir()) / f"{fit}.nc"
    if not path.exists():
        raise PriorError(f"no fitted prior {fit!r} at {path}; run `simtrial priors fit {fit}`")
    return az.from_netcdf(path)


def _scored(evidence: Any, version: str) -> tuple[list[Any], set[str]]:
    """Terms each model scores (its own, plus v2's for data it did not use) and its own names."""
    from simtrial.priors.likelihood import pilot_terms

    own = pilot_terms(evidence, version)
    names = {t.name for t in own}
    extra = [t for t in pilot_terms(evidence, "v2") if t.name not in names]
    return own + extra, names


def _onset(post: Any) -> np.ndarray:
    if "onset_weeks" in post:
        return np.asarray(post["onset_weeks"].values, float).reshape(-1)
    n = post.sizes["chain"] * post.sizes["draw"]
    return np.full(n, 2.0)


def elpd(idatas: Mapping[str, Any], evidence: Any) -> dict[str, Any]:
    """Pointwise ELPD of each model and the difference (see the module docstring)."""
    import arviz as az
    import xarray as xr

    from simtrial.priors.likelihood import pointwise_loglik
    from simtrial.priors.models import msc_params

    per_model: dict[str, dict[str, Any]] = {}
    for fit, idata in idatas.items():
        version = "v2" if "ceiling" in idata.posterior else "v1"
        terms, own = _scored(evidence, version)
        post = idata.posterior
        ll = pointwise_loglik(terms, msc_params(post), _onset(post))
        shape = (post.sizes["chain"], post.sizes["draw"])
        in_lik = [i for i, t in enumerate(terms) if t.name in own]
        ds = xr.Dataset(
            {
                "y": xr.DataArray(
                    ll[:, in_lik].reshape(shape + (len(in_lik),)),
                    dims=("chain", "draw", "observation"),
                    coords={"observation": [terms[i].name for i in in_lik]},
                )
            }
        )
        loo = az.loo(az.InferenceData(posterior=post, log_likelihood=ds), pointwise=True)
        points: dict[str, dict[str, Any]] = {}
        for k, i in enumerate(in_lik):
            points[terms[i].name] = {
                "elpd": float(loo.loo_i.values[k]),
                "pareto_k": float(loo.pareto_k.values[k]),
                "method": "psis-loo",
            }
        for i, t in enumerate(terms):
            if t.name not in own:
                lpd = float(special.logsumexp(ll[:, i]) - math.log(ll.shape[0]))
                points[t.name] = {"elpd": lpd, "pareto_k": None, "method": "lpd (not in fit)"}
        per_model[fit] = {"version": version, "points": points}
    names = sorted(set.intersection(*(set(m["points"]) for m in per_model.values())))
    out: dict[str, Any] = {"observations": names, "models": {}}
    for fit, m in per_model.items():
        e = np.array([m["points"][n]["elpd"] for n in names])
        out["models"][fit] = {
            "version": m["version"],
            "elpd": float(e.sum()),
            "se": float(math.sqrt(len(e) * e.var(ddof=1))),
            "pareto_k_over_0.7": [n for n in names if (m["points"][n]["pareto_k"] or 0.0) > 0.7],
            "points": {n: m["points"][n] for n in names},
        }
    fits = list(per_model)
    if len(fits) == 2:
        a, b = fits
        d = np.array(
            [per_model[b]["points"][n]["elpd"] - per_model[a]["points"][n]["elpd"] for n in names]
        )
        out["difference"] = {
            "of": f"{b} - {a}",
            "elpd_diff": float(d.sum()),
            "se": float(math.sqrt(len(d) * d.var(ddof=1))),
        }
    return out


def posterior_checks(idatas: Mapping[str, Any], evidence: Any, seed: int = 20261204) -> dict:
    """Per-pilot posterior predictive checks of each model (see the module docstring)."""
    from simtrial.priors.evidence import INDICATIONS
    from simtrial.priors.likelihood import predictive, relapse_probability
    from simtrial.priors.models import msc_params

    sle = INDICATIONS.index("systemic_lupus_erythematosus")
    as_ = INDICATIONS.index("ankylosing_spondylitis")
    out: dict[str, Any] = {}
    for fit, idata in idatas.items():
        version = "v2" if "ceiling" in idata.posterior else "v1"
        terms, own = _scored(evidence, version)
        post = idata.posterior
        params = msc_params(post)
        rng = np.random.default_rng([seed, len(out)])
        reps = predictive(terms, params, _onset(post), rng)
        observed = {
            f"{t.name}/{s}": (v, t.name in own) for t in terms for s, v in t.observed.items()
        }
        # outside both likelihoods: SLE in remission at 5 years (28/68) and the ASDAS check
        if version == "v2":
            p_rel = relapse_probability(params["loss"][:, sle], 260.0, 52.0)
        else:
            p_rel = relapse_probability(params["loss"][:, sle], 208.0, 0.0)
        p5 = params["ceiling"] * params["induction"][:, sle] * (1 - p_rel)
        reps["seed_002_systemic_lupus_erythematosus:remission_at_5y/count"] = rng.binomial(
            68, np.clip(p5, 0, 1)
        ).astype(float)
        observed["seed_002_systemic_lupus_erythematosus:remission_at_5y/count"] = (28.0, False)
        reps["seed_003_ankylosing_spondylitis:asdas_crp/retained_week20"] = np.exp(
            -16 * params["loss"][:, as_]
        )
        observed["seed_003_ankylosing_spondylitis:asdas_crp/retained_week20"] = (
            (3.6 - 3.2) / (3.6 - 2.4),
            False,
        )
        rows = {}
        for key, (value, used) in observed.items():
            r = reps[key]
            lo, hi = np.quantile(r, [0.025, 0.975])
            rows[key] = {
                "observed": value,
                "q025": float(lo),
                "q50": float(np.quantile(r, 0.5)),
                "mean": float(r.mean()),
                "q975": float(hi),
                "p_le": float(np.mean(r <= value)),
                "covered_95": bool(lo <= value <= hi),
                "in_likelihood": used,
            }
        covered = [r["covered_95"] for r in rows.values()]
        out[fit] = {
            "version": version,
            "checks": rows,
            "coverage_95": f"{sum(covered)}/{len(covered)}",
        }
    return out


# -- prior sensitivity -------------------------------------------------------------------------


def _psis(log_w: np.ndarray) -> tuple[np.ndarray, float]:
    import arviz as az

    lw, k = az.psislw(log_w - log_w.max())
    w = np.exp(lw - special.logsumexp(lw))
    return w, float(k)


def sensitivity_weights(idata: Any) -> dict[str, dict[str, Any]]:
    """Importance weights over the ``msc`` draws for each alternative prior (normalised).

    ``{label: {"weights", "pareto_k", "onset"}}``; ``onset`` is the onset the scenarios use
    under that setting (None: the scenario's own).
    """
    from simtrial.priors.likelihood import ONSET_GRID
    from simtrial.priors.models import CEILING_PRIOR, SIGMA_LOSS_SCALE

    post = idata.posterior
    sigma = np.asarray(post["sigma_loss"].values, float).reshape(-1)
    c = np.asarray(post["ceiling"].values, float).reshape(-1)
    n = sigma.size
    out: dict[str, dict[str, Any]] = {
        "base (v2 as fitted)": {"weights": np.full(n, 1 / n), "pareto_k": None, "onset": None}
    }
    base_sigma = stats.halfnorm(scale=SIGMA_LOSS_SCALE)
    for scale in (0.5, 2.0):
        w, k = _psis(stats.halfnorm(scale=scale).logpdf(sigma) - base_sigma.logpdf(sigma))
        out[f"sigma_loss ~ HalfNormal({scale:g})"] = {"weights": w, "pareto_k": k, "onset": None}
    base_c = stats.beta(*CEILING_PRIOR)
    for a, b in ((1.0, 1.0), (6.0, 2.0), (19.0, 1.0)):
        w, k = _psis(stats.beta(a, b).logpdf(c) - base_c.logpdf(c))
        out[f"ceiling ~ Beta({a:g}, {b:g})"] = {"weights": w, "pareto_k": k, "onset": None}
    prob = np.asarray(post["onset_probability"].values, float).reshape(n, -1)
    for j, d in enumerate(ONSET_GRID):
        w = prob[:, j] / prob[:, j].sum()
        out[f"onset = {d:g} weeks"] = {
            "weights": w,
            "pareto_k": None,
            "onset": float(d),
            "posterior_probability": float(prob[:, j].mean()),
        }
    return out


def _scenario_rows(path: Path, idata: Any, settings: dict[str, dict[str, Any]]) -> list[dict]:
    """Endpoint probability / power of one scenario file's variants under each setting."""
    from simtrial.engines.base import arm_parameters
    from simtrial.engines.exact import ExactEngine, exact_power
    from simtrial.model.response import arm_values, endpoint_law
    from simtrial.scenario.load import load_scenario
    from simtrial.scenario.parameters import PriorParam

    ss = load_scenario(path)
    post = idata.posterior
    n_draws = post.sizes["chain"] * post.sizes["draw"]

    def draws_of(p: PriorParam) -> np.ndarray:
        da = post[p.var]
        v = np.asarray(da.values, float).reshape(n_draws, -1)
        if p.index is None:
            return v[:, 0]
        dims = [d for d in da.dims if d not in ("chain", "draw")]
        labels = [str(x) for x in da[dims[0]].values]
        return v[:, labels.index(p.index) if p.index in labels else int(p.index)]

    rows = []
    for variant, sc in ss.variants.items():
        msc_arms = [
            a
            for a in sc.arms
            if any(isinstance(p, PriorParam) and p.fit == "msc" for _, p in arm_parameters(sc, a))
            and sc.arms[a].response is not None
        ]
        if not msc_arms:
            continue
        try:
            ExactEngine().check(sc)
            exact = sc.analysis.interims is None and len(sc.analysis.treatments) == 1
        except Exception:  # the exact engine refuses: report endpoint probabilities only
            exact = False
        n_total = max(sc.evaluate.n_total) if sc.evaluate.n_total else None
        for label, setting in settings.items():
            w = setting["weights"]
            per_draw: dict[str, Any] = {}
            means: dict[str, Any] = {}
            for arm in sc.arms:
                vals_d: dict[tuple[str, ...], Any] = {}
                vals_m: dict[tuple[str, ...], Any] = {}
                for loc, p in arm_parameters(sc, arm):
                    if isinstance(p, PriorParam) and p.fit == "msc":
                        x = draws_of(p)
                        vals_d[loc], vals_m[loc] = x, float(np.sum(w * x))
                    else:
                        vals_d[loc] = vals_m[loc] = p.mean()
                av_d, av_m = arm_values(sc.arms[arm], vals_d), arm_values(sc.arms[arm], vals_m)
                if setting["onset"] is not None and sc.arms[arm].response is not None:
                    from dataclasses import replace

                    av_d = replace(av_d, onset_weeks=setting["onset"])
                    av_m = replace(av_m, onset_weeks=setting["onset"])
                per_draw[arm], means[arm] = av_d, av_m
            for arm in msc_arms:
                row: dict[str, Any] = {
                    "scenario": ss.name,
                    "variant": variant,
                    "arm": arm,
                    "setting": label,
                    "pareto_k": setting["pareto_k"],
                }
                try:
                    # P(endpoint) as in summary.json: with dropouts as non-responders
                    p_draw = endpoint_law(per_draw[arm], sc.endpoint).nri()
                    p_mean = endpoint_law(means[arm], sc.endpoint).nri()
                    row["endpoint_at_means"] = float(p_mean)
                    row["endpoint_mean"] = float(np.sum(w * p_draw))
                except ValueError as exc:  # re-dosing or time-to-loss: no closed form
                    row["endpoint_at_means"] = row["endpoint_mean"] = None
                    row["note"] = str(exc)
                if exact and n_total is not None:
                    n_per_arm = sc.n_per_arm(n_total)
                    power, _ = exact_power(sc, n_per_arm, means)
                    assur, _ = exact_power(sc, n_per_arm, per_draw)
                    row.update(
                        {
                            "n_total": n_total,
                            "power": float(power),
                            "assurance": float(np.sum(w * assur)),
                        }
                    )
                rows.append(row)
    return rows


def sensitivity(idata: Any, scenario_files: Sequence[Path]) -> dict[str, Any]:
    """Prior-sensitivity table of the shipped scenarios (see the module docstring)."""
    settings = sensitivity_weights(idata)
    rows: list[dict[str, Any]] = []
    for path in scenario_files:
        rows.extend(_scenario_rows(Path(path), idata, settings))
    return {
        "settings": {
            k: {kk: vv for kk, vv in v.items() if kk != "weights"} for k, v in settings.items()
        },
        "rows": rows,
    }


def compare_fits(
    directory: Path | str | None = None,
    out_dir: Path | str = Path("results/priors"),
    scenario_files: Sequence[Path] | None = None,
    evidence_dir: Path | str | None = None,
) -> tuple[Path, Path]:
    """Write ``compare.json`` and ``compare.md`` (``msc_v1`` vs ``msc``) under ``out_dir``."""
    from simtrial.priors.evidence import load_all

    evidence = load_all(evidence_dir)
    idatas = {"msc_v1": _load("msc_v1", directory), "msc": _load("msc", directory)}
    if scenario_files is None:
        scenario_files = sorted(Path("scenarios").glob("*.yaml"))
    result = {
        "elpd": elpd(idatas, evidence),
        "checks": posterior_checks(idatas, evidence),
        "summaries": summaries_side_by_side(idatas),
        "sensitivity": sensitivity(idatas["msc"], scenario_files),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / "compare.json", out / "compare.md"
    atomic_write(js, json.dumps(result, indent=1) + "\n")
    atomic_write(md, to_markdown(result))
    return js, md


def summaries_side_by_side(idatas: Mapping[str, Any]) -> dict[str, Any]:
    """Median and 95% interval of the response parameters of each fit."""
    out: dict[str, Any] = {}
    for fit, idata in idatas.items():
        post = idata.posterior
        rows: dict[str, Any] = {}
        for var in (
            "induction",
            "loss_per_week",
            "induction_new",
            "loss_per_week_new",
            "ceiling",
            "onset_weeks",
            "sigma_loss",
        ):
            if var not in post:
                continue
            da = post[var]
            dims = [d for d in da.dims if d not in ("chain", "draw")]
            labels = [None] if not dims else [str(x) for x in da[dims[0]].values]
            for i, lab in enumerate(labels):
                x = np.asarray((da.isel({dims[0]: i}) if dims else da).values).reshape(-1)
                key = var if lab is None else f"{var}[{lab}]"
                q = np.quantile(x, [0.025, 0.5, 0.975])
                rows[key] = {
                    "q025": float(q[0]),
                    "q50": float(q[1]),
                    "q975": float(q[2]),
                    "mean": float(x.mean()),
                }
        out[fit] = rows
    return out


def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    x = float(x)
    if x != 0 and (abs(x) < 10 ** (-digits) or abs(x) >= 1e5):
        return f"{x:.2e}"
    return f"{x:.{digits}f}"


def to_markdown(result: Mapping[str, Any]) -> str:
    """The human-readable ``compare.md``."""
    lines = ["# msc v2 against msc_v1", ""]
    s = result["summaries"]
    fits = list(s)
    lines += [
        "## Posterior summaries (median [95% interval])",
        "",
        "| parameter | " + " | ".join(fits) + " |",
        "|---|" + "---|" * len(fits),
    ]
    keys = list(dict.fromkeys(k for f in fits for k in s[f]))
    for k in keys:
        cells = []
        for f in fits:
            r = s[f].get(k)
            cells.append(
                "–" if r is None else f"{_f(r['q50'], 4)} [{_f(r['q025'], 4)}, {_f(r['q975'], 4)}]"
            )
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    e = result["elpd"]
    lines += [
        "",
        "## ELPD on the same pilot data",
        "",
        "| model | ELPD | SE | points with Pareto k > 0.7 |",
        "|---|---|---|---|",
    ]
    for f, m in e["models"].items():
        lines.append(
            f"| {f} | {_f(m['elpd'], 2)} | {_f(m['se'], 2)} | "
            f"{', '.join(x.split(':')[1] for x in m['pareto_k_over_0.7']) or 'none'} |"
        )
    if "difference" in e:
        d = e["difference"]
        lines.append(f"\nDifference {d['of']}: {_f(d['elpd_diff'], 2)} (SE {_f(d['se'], 2)}).")
    lines += [
        "",
        "| observation | " + " | ".join(f"{f} elpd (k)" for f in e["models"]) + " |",
        "|---|" + "---|" * len(e["models"]),
    ]
    for n in e["observations"]:
        cells = []
        for m in e["models"].values():
            p = m["points"][n]
            k = "" if p["pareto_k"] is None else f" ({_f(p['pareto_k'], 2)})"
            cells.append(f"{_f(p['elpd'], 2)}{k}" + (" †" if p["pareto_k"] is None else ""))
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines.append(
        "\n† not in that model's likelihood: log predictive density of the full "
        "posterior (an out-of-sample score)."
    )
    c = result["checks"]
    lines += ["", "## Posterior predictive checks per pilot", ""]
    for f, m in c.items():
        lines += [
            f"### {f}: 95% intervals cover {m['coverage_95']}",
            "",
            "| check | observed | predictive mean | 95% predictive interval | P(rep <= obs) "
            "| in likelihood |",
            "|---|---|---|---|---|---|",
        ]
        for k, r in m["checks"].items():
            mark = "" if r["covered_95"] else " **outside**"
            lines.append(
                f"| {k} | {_f(r['observed'])}{mark} | {_f(r['mean'])} | {_f(r['q025'])} – "
                f"{_f(r['q975'])} | {_f(r['p_le'])} | {'yes' if r['in_likelihood'] else 'no'} |"
            )
        lines.append("")
    return "\n".join(lines + sensitivity_markdown(result["sensitivity"])) + "\n"


def sensitivity_markdown(sens: Mapping[str, Any]) -> list[str]:
    """The lines of ``compare.md``'s prior-sensitivity section."""
    lines = [
        "## Prior sensitivity of the shipped scenarios",
        "",
        "MSC-arm P(endpoint) (dropouts as non-responders) at the posterior means (what "
        "power uses) / its "
        "posterior mean (what assurance averages); power and assurance by the exact engine "
        "where it applies, at the scenario's largest n_total. k: Pareto k̂ of the "
        "importance weights (> 0.7: unreliable).",
        "",
        "| setting | k | " + "posterior P | " + "|",
        "",
    ]
    lines = lines[:-2]
    lines += ["| setting | Pareto k | posterior probability |", "|---|---|---|"]
    for label, st in sens["settings"].items():
        lines.append(
            f"| {label} | {_f(st.get('pareto_k'), 2)} | {_f(st.get('posterior_probability'))} |"
        )
    lines += [
        "",
        "| scenario / variant (/ arm) | setting | endpoint at means | endpoint mean | power | "
        "assurance |",
        "|---|---|---|---|---|---|",
    ]
    skipped = sorted(
        {
            f"{r['scenario']} / {r['variant']}"
            for r in sens["rows"]
            if r.get("endpoint_at_means") is None and r.get("power") is None
        }
    )
    arms_of: dict[tuple[str, str], set[str]] = {}
    for r in sens["rows"]:
        arms_of.setdefault((r["scenario"], r["variant"]), set()).add(r.get("arm", ""))
    for r in sens["rows"]:
        if f"{r['scenario']} / {r['variant']}" in skipped:
            continue
        name = f"{r['scenario']} / {r['variant']}"
        if len(arms_of[(r["scenario"], r["variant"])]) > 1:  # several MSC arms: say which
            name += f" / {r['arm']}"
        lines.append(
            f"| {name} | {r['setting']} | "
            f"{_f(r.get('endpoint_at_means'))} | {_f(r.get('endpoint_mean'))} | "
            f"{_f(r.get('power'))} | {_f(r.get('assurance'))} |"
        )
    if skipped:
        lines.append(
            f"\nNot in the table (re-dosing on loss has no closed form; simulate it "
            f"with `simtrial run`): {', '.join(skipped)}."
        )
    return lines
