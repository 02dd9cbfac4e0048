"""Priors layer: evidence, PyMC fits, mixtures and effective sample size.

Only the fitting functions import PyMC; reading committed fits needs xarray alone.
"""

from typing import TYPE_CHECKING

from simtrial._modules import lazy_getattr

if TYPE_CHECKING:  # imported on first use (``simtrial --help`` should not load SciPy)
    from simtrial.priors.em import fit_beta_mixture, fit_gamma_mixture
    from simtrial.priors.evidence import Evidence, load_all, load_evidence
    from simtrial.priors.mixture import BetaMixture, GammaMixture, robustify
    from simtrial.priors.store import (
        available_fits,
        describe,
        fitted_dir,
        joint_draws,
        posterior_mean,
        resolve_index,
    )

_LAZY = {
    **dict.fromkeys(("Evidence", "load_all", "load_evidence"), "simtrial.priors.evidence"),
    **dict.fromkeys(("BetaMixture", "GammaMixture", "robustify"), "simtrial.priors.mixture"),
    **dict.fromkeys(("fit_beta_mixture", "fit_gamma_mixture"), "simtrial.priors.em"),
    **dict.fromkeys(
        (
            "available_fits",
            "describe",
            "fitted_dir",
            "joint_draws",
            "posterior_mean",
            "resolve_index",
        ),
        "simtrial.priors.store",
    ),
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "BetaMixture",
    "Evidence",
    "GammaMixture",
    "available_fits",
    "describe",
    "fit_beta_mixture",
    "fit_gamma_mixture",
    "fitted_dir",
    "joint_draws",
    "load_all",
    "load_evidence",
    "posterior_mean",
    "resolve_index",
    "robustify",
]
