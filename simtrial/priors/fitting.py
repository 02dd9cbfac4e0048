"""Fit the priors: sample, check diagnostics, predictive checks, save and summarise.

``fit_prior("msc")`` runs the whole pipeline of one fit:

1. build the PyMC model from the evidence files (:mod:`simtrial.priors.models`);
2. sample with NUTS (seeded: the same seed on the same software gives the same draws);
3. **diagnostics gate** (:func:`check_diagnostics`): every posterior variable and index must
   have R-hat ≤ 1.01 and bulk ESS ≥ 400, and there must be no divergent transition, otherwise
   :class:`~simtrial.errors.PriorError` says which variable failed and what to do;
4. prior and posterior predictive sampling;
5. save ``<dir>/<fit>.nc`` (ArviZ InferenceData: posterior, prior, prior_predictive,
   posterior_predictive, observed_data, sample_stats) and ``<dir>/<fit>.json``
   (:func:`summarize`): per variable and index the mean, sd, quantiles, R-hat, ESS,
   divergences, a Beta (probabilities) or Gamma (rates) mixture approximation with its effective
   sample size (ELIR, moment, Morita) and a robustified version (weight 0.2).

The JSON summary can be rebuilt from the ``.nc`` alone (:func:`write_summary`), without
refitting. This module imports PyMC and ArviZ; :mod:`simtrial.priors.store` reads the results
with xarray alone.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simtrial.errors import PriorError

__all__ = [
    "FITS",
    "FitSpec",
    "RHAT_MAX",
    "ESS_BULK_MIN",
    "ROBUST_WEIGHT",
    "check_diagnostics",
    "fit_prior",
    "summarize",
    "write_summary",
]

RHAT_MAX = 1.01
ESS_BULK_MIN = 400.0
ROBUST_WEIGHT = 0.2
"""Weight of the weakly informative component of the robustified mixtures (as RBesT's vignette)."""


@dataclass(frozen=True)
class FitSpec:
    """How one fit is sampled and summarised.

    ``kinds`` maps each contract variable to ``"probability"`` (Beta mixture) or ``"rate"``
    (Gamma mixture); other posterior variables (hyperparameters, raw effects) get the plain
    summary only.
    """

    name: str
    seed: int
    kinds: Mapping[str, str]
    description: str
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    target_accept: float = 0.95
    prior_draws: int = 500

    def seeds(self) -> dict[str, int]:
        """Independent integer seeds for each random step, from ``SeedSequence(seed)``."""
        states = np.random.SeedSequence(self.seed).generate_state(4)
        names = ("sample", "prior", "posterior_predictive", "mixture")
        return dict(zip(names, map(int, states), strict=True))


FITS: dict[str, FitSpec] = {
    "msc": FitSpec(
        name="msc",
        seed=20260301,
        kinds={
            "induction": "probability",
            "induction_new": "probability",
            "loss_per_week": "rate",
            "loss_per_week_new": "rate",
            "ae_per_infusion": "probability",
            "sae_per_year": "rate",
        },
        description="hierarchical infusion-response model of MSC across indications",
    ),
    "as_placebo": FitSpec(
        name="as_placebo",
        seed=20260302,
        kinds={"theta": "probability", "theta_new": "probability"},
        description="MAP prior of placebo ASAS20 response at week 6 in AS (8 trials)",
    ),
    "uc_control": FitSpec(
        name="uc_control",
        seed=20260303,
        kinds={"response": "probability"},
        description="response to optimised infliximab after loss of response in UC (4/16)",
        target_accept=0.9,
    ),
}


def _unknown_fit(name: str) -> PriorError:
    return PriorError(f"unknown fit {name!r}; the fits are: {', '.join(FITS)}")


def _flat(idata: Any) -> dict[str, tuple[list[str], np.ndarray]]:
    """Posterior variable[index] → (label parts, draws array (chain, draw))."""
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    post = idata.posterior
    for name, da in post.data_vars.items():
        dims = [d for d in da.dims if d not in ("chain", "draw")]
        if not dims:
            out[str(name)] = ([], da.values)
            continue
        if len(dims) > 1:
            raise PriorError(f"variable {name!r} has more than one dimension {dims}")
        for i, label in enumerate(da[dims[0]].values):
            out[f"{name}[{label}]"] = ([str(label)], da.isel({dims[0]: i}).values)
    return out


def check_diagnostics(
    idata: Any,
    fit: str = "?",
    *,
    rhat_max: float = RHAT_MAX,
    ess_bulk_min: float = ESS_BULK_MIN,
) -> dict[str, Any]:
    """The diagnostics gate: raise unless every posterior variable passes.

    Checks each posterior variable and index for rank-normalised split R-hat ≤ ``rhat_max`` and
    bulk ESS ≥ ``ess_bulk_min`` (Vehtari et al. 2021, Bayesian Analysis 16(2)), and that no
    post-warm-up transition diverged.

    Returns
    -------
    dict
        ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``, and the variables at
        which the extremes occur.

    Raises
    ------
    PriorError
        Naming every variable that failed and what to do about it.
    """
    import arviz as az

    problems: list[str] = []
    divergences = 0
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        divergences = int(idata.sample_stats["diverging"].values.sum())
    worst = {"max_rhat": -math.inf, "min_ess_bulk": math.inf, "min_ess_tail": math.inf}
    where: dict[str, str] = {}
    for key, (_, draws) in _flat(idata).items():
        rhat = float(az.rhat(draws))
        ess_bulk = float(az.ess(draws, method="bulk"))
        ess_tail = float(az.ess(draws, method="tail"))
        if not rhat <= rhat_max:  # also catches NaN
            problems.append(
                f"{key}: R-hat {rhat:.3f} > {rhat_max} (the chains disagree; run longer with "
                "more tuning, or reparametrise)"
            )
        if not ess_bulk >= ess_bulk_min:
            problems.append(
                f"{key}: bulk ESS {ess_bulk:.0f} < {ess_bulk_min:.0f} (too few effective draws; "
                "increase draws, or reparametrise the variable's hierarchy)"
            )
        for stat, value, better in (
            ("max_rhat", rhat, max),
            ("min_ess_bulk", ess_bulk, min),
            ("min_ess_tail", ess_tail, min),
        ):
            if better(value, worst[stat]) == value and value != worst[stat]:
                worst[stat] = value
                where[stat] = key
    if divergences:
        problems.append(
            f"{divergences} divergent transitions after warm-up (the sampler could not follow "
            "the posterior; raise target_accept in simtrial.priors.fitting.FITS or reparametrise, "
            "e.g. non-centred random effects)"
        )
    if problems:
        raise PriorError(
            f"fit {fit!r} failed its diagnostics gate (R-hat <= {rhat_max}, bulk ESS >= "
            f"{ess_bulk_min:.0f}, no divergences); nothing was saved:\n  - "
            + "\n  - ".join(problems)
        )
    result: dict[str, Any] = {**worst, "divergences": divergences}
    result.update({f"{k}_at": v for k, v in where.items()})
    return result


def _entry_stats(draws: np.ndarray, divergences: int) -> dict[str, float | int]:
    import arviz as az

    flat = draws.reshape(-1)
    q025, q50, q975 = np.quantile(flat, [0.025, 0.5, 0.975])
    return {
        "mean": float(flat.mean()),
        "sd": float(flat.std(ddof=1)),
        "q025": float(q025),
        "q50": float(q50),
        "q975": float(q975),
        "mcse_mean": float(np.asarray(az.mcse(draws, method="mean")).reshape(-1)[0]),
        "rhat": float(az.rhat(draws)),
        "ess_bulk": float(az.ess(draws, method="bulk")),
        "ess_tail": float(az.ess(draws, method="tail")),
        "divergences": int(divergences),
    }


def _mixture_entry(flat: np.ndarray, kind: str, rng: np.random.Generator) -> dict[str, Any]:
    """Mixture approximation, its ESS, and its robustified version (lazy imports)."""
    from simtrial.priors.mixture import (
        BetaMixture,
        GammaMixture,
        fit_beta_mixture,
        fit_gamma_mixture,
        robustify,
    )

    mix: BetaMixture | GammaMixture
    if kind == "probability":
        mix = fit_beta_mixture(flat, max_components=4, rng=rng)
        robust = robustify(mix, ROBUST_WEIGHT, mean=0.5)
        family, robust_mean = "beta", 0.5
    else:
        mix = fit_gamma_mixture(flat, max_components=4, rng=rng)
        robust = robustify(mix, ROBUST_WEIGHT)
        family, robust_mean = "gamma", float(mix.mean())
    out: dict[str, Any] = {"mixture_family": family, "mixture": mix.to_dict()}

    from simtrial.priors.ess import MultimodalPriorWarning, ess

    def all_ess(m: Any) -> dict[str, Any]:
        """ESS by the three methods; None where undefined (e.g. ELIR with a shape < 1).

        Morita's ESS of a multimodal mixture is recorded with a note instead of a warning:
        it is ill-defined there, and ELIR is the one to use (RBesT's advice).
        """
        res: dict[str, Any] = {}
        for method in ("elir", "moment", "morita"):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", MultimodalPriorWarning)
                try:
                    value = float(ess(m, method=method))
                except (PriorError, ValueError, FloatingPointError):
                    value = math.nan
            res[method] = value if math.isfinite(value) else None
            for w in caught:
                if issubclass(w.category, MultimodalPriorWarning):
                    res.setdefault(f"{method}_note", str(w.message))
                else:  # anything else is passed on unchanged
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return res

    out["ess"] = all_ess(mix)
    out["robust"] = {
        "weight": ROBUST_WEIGHT,
        "mean": robust_mean,
        "mixture": robust.to_dict(),
        "ess": all_ess(robust),
    }
    return out


def summarize(idata: Any, spec: FitSpec) -> dict[str, Any]:
    """The ``<fit>.json`` summary of a fitted InferenceData.

    Layout::

        {"fit", "description", "seed", "chains", "draws", "tune", "target_accept",
         "model": {...posterior attrs...}, "diagnostics": {...},
         "variables": {VAR: {"dims": [...], "coords": {dim: [labels]}, "kind": KIND,
                             "summary": STATS            # scalar variable
                                     | {LABEL: STATS}}}} # one-dimensional variable

    ``STATS``: ``mean, sd, q025, q50, q975, mcse_mean, rhat, ess_bulk, ess_tail, divergences``
    and, for probabilities and rates, ``mixture_family``, ``mixture`` (``[{weight, a, b}]``;
    Beta(a, b) or Gamma(shape a, rate b)), ``ess`` (``{elir, moment, morita}``) and ``robust``
    (``{weight, mean, mixture, ess}``).
    """
    seeds = spec.seeds()
    divergences = int(idata.sample_stats["diverging"].values.sum())
    variables: dict[str, Any] = {}
    for v_index, (name, da) in enumerate(idata.posterior.data_vars.items()):
        dims = [str(d) for d in da.dims if d not in ("chain", "draw")]
        kind = spec.kinds.get(str(name), "other")
        coords = {d: [str(x) for x in da[d].values] for d in dims}

        def entry(draws: np.ndarray, i: int, kind: str = kind, v_index: int = v_index) -> Any:
            stats: dict[str, Any] = dict(_entry_stats(draws, divergences))
            if kind in ("probability", "rate"):
                rng = np.random.default_rng([seeds["mixture"], v_index, i])
                stats.update(_mixture_entry(draws.reshape(-1), kind, rng))
            return stats

        if not dims:
            summary: Any = entry(da.values, 0)
        else:
            summary = {
                label: entry(da.isel({dims[0]: i}).values, i)
                for i, label in enumerate(coords[dims[0]])
            }
        variables[str(name)] = {"dims": dims, "coords": coords, "kind": kind, "summary": summary}
    diag = check_diagnostics(idata, spec.name)
    attrs = {
        k: (v.item() if isinstance(v, np.generic) else v)
        for k, v in idata.posterior.attrs.items()
        if k.startswith("simtrial_")
    }
    return {
        "fit": spec.name,
        "description": spec.description,
        "seed": spec.seed,
        "chains": int(idata.posterior.sizes["chain"]),
        "draws": int(idata.posterior.sizes["draw"]),
        "tune": spec.tune,
        "target_accept": spec.target_accept,
        "sampling_seconds": float(idata.posterior.attrs.get("sampling_time", math.nan)),
        "fit_seconds": float(idata.posterior.attrs.get("simtrial_fit_seconds", math.nan)),
        "model": attrs,
        "diagnostics": diag,
        "variables": variables,
    }


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_summary(name: str, directory: str | Path | None = None) -> Path:
    """Rebuild ``<fit>.json`` from the committed ``<fit>.nc`` (no refit)."""
    import arviz as az

    from simtrial.priors.store import fitted_dir

    if name not in FITS:
        raise _unknown_fit(name)
    directory = Path(directory) if directory is not None else fitted_dir()
    nc = directory / f"{name}.nc"
    if not nc.exists():
        raise PriorError(
            f"no fitted prior {name!r} in {directory}; run `simtrial priors fit {name}`"
        )
    idata = az.from_netcdf(nc)
    summary = summarize(idata, FITS[name])
    out = directory / f"{name}.json"
    out.write_text(json.dumps(summary, indent=1, default=_json_default) + "\n")
    return out


_SAMPLE_STATS = (
    "diverging",
    "energy",
    "energy_error",
    "lp",
    "tree_depth",
    "n_steps",
    "step_size",
    "acceptance_rate",
    "reached_max_treedepth",
)


@dataclass
class FitResult:
    """What :func:`fit_prior` did: the files written, the time taken and the diagnostics."""

    name: str
    netcdf: Path
    summary_json: Path
    seconds: float
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        d = self.diagnostics
        return (
            f"{self.name}: {self.seconds:.0f} s; max R-hat {d['max_rhat']:.4f} "
            f"({d.get('max_rhat_at', '')}), min bulk ESS {d['min_ess_bulk']:.0f} "
            f"({d.get('min_ess_bulk_at', '')}), divergences {d['divergences']}; "
            f"wrote {self.netcdf} and {self.summary_json.name}"
        )


def fit_prior(
    name: str,
    *,
    evidence_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    cores: int = 2,
    progressbar: bool = True,
    log: Callable[[str], None] = lambda _: None,
) -> FitResult:
    """Fit one prior and save ``<fit>.nc`` and ``<fit>.json`` (see the module docstring).

    Parameters
    ----------
    name : str
        One of :data:`FITS`.
    evidence_dir, out_dir : path, optional
        Defaults: :func:`simtrial.priors.evidence.evidence_dir`,
        :func:`simtrial.priors.store.fitted_dir`.
    cores : int
        Processes for the chains; the draws do not depend on it.
    progressbar : bool
        Show PyMC's progress bars.
    log : callable
        Receives one line per step.

    Raises
    ------
    PriorError
        Unknown fit, or the sampler failed the diagnostics gate (nothing is written then).
    ScenarioError
        An evidence file is invalid.
    """
    try:
        import pymc as pm
    except ImportError:
        raise PriorError(
            "fitting priors needs PyMC, which running scenarios does not: "
            'pip install -e ".[fit]" (or ".[test]")'
        ) from None

    from simtrial.priors.evidence import load_all, missing_evidence
    from simtrial.priors.models import CEILING, MODELS, ONSET_WEEKS
    from simtrial.priors.store import clear_cache, fitted_dir

    if name not in FITS:
        raise _unknown_fit(name)
    spec = FITS[name]
    seeds = spec.seeds()
    evidence = load_all(evidence_dir)
    missing = missing_evidence(evidence, name)
    if missing:
        raise PriorError(
            f"the {name} fit has no evidence for {'; '.join(missing)} in "
            f"{evidence_dir or 'priors/evidence'}; add an evidence file rather than fit a "
            "prior with no data behind it"
        )
    model = MODELS[name](evidence)
    start = time.perf_counter()
    log(f"{name}: sampling {spec.chains} chains x {spec.draws} draws ({spec.tune} tuning)")
    with model:
        idata = pm.sample(
            draws=spec.draws,
            tune=spec.tune,
            chains=spec.chains,
            cores=max(1, min(cores, spec.chains)),
            target_accept=spec.target_accept,
            random_seed=seeds["sample"],
            progressbar=progressbar,
            compute_convergence_checks=False,
        )
        log(f"{name}: checking diagnostics")
        check_diagnostics(idata, name)
        log(f"{name}: prior and posterior predictive sampling")
        prior = pm.sample_prior_predictive(draws=spec.prior_draws, random_seed=seeds["prior"])
        idata.extend(prior)
        pm.sample_posterior_predictive(
            idata,
            random_seed=seeds["posterior_predictive"],
            extend_inferencedata=True,
            progressbar=progressbar,
        )
    seconds = time.perf_counter() - start
    # keep the sample statistics ArviZ's diagnostics and plots use; drop timings (not
    # reproducible) and eigenvalue placeholders, so the committed file stays small
    keep = [k for k in _SAMPLE_STATS if k in idata.sample_stats]
    idata.sample_stats = idata.sample_stats[keep]
    sources = sorted({ev.study for ev in evidence.values() for _ in ev.observations_for(name)})
    idata.posterior.attrs.update(
        {
            "simtrial_fit": name,
            "simtrial_seed": spec.seed,
            "simtrial_evidence": ", ".join(sources),
            "simtrial_fit_seconds": seconds,
        }
    )
    if name == "msc":
        idata.posterior.attrs.update(
            {"simtrial_onset_weeks": ONSET_WEEKS, "simtrial_ceiling": CEILING}
        )
    directory = Path(out_dir) if out_dir is not None else fitted_dir()
    directory.mkdir(parents=True, exist_ok=True)
    nc = directory / f"{name}.nc"
    log(f"{name}: writing {nc}")
    idata.to_netcdf(str(nc))
    clear_cache()
    summary = summarize(idata, spec)
    out = directory / f"{name}.json"
    out.write_text(json.dumps(summary, indent=1, default=_json_default) + "\n")
    return FitResult(name, nc, out, seconds, summary["diagnostics"])
