"""Priors layer: evidence, PyMC fits, mixtures and effective sample size.

Only the fitting functions import PyMC; reading committed fits needs xarray alone.
"""

from simtrial.priors.evidence import Evidence, load_all, load_evidence
from simtrial.priors.mixture import (
    BetaMixture,
    GammaMixture,
    fit_beta_mixture,
    fit_gamma_mixture,
    robustify,
)
from simtrial.priors.store import (
    available_fits,
    describe,
    fitted_dir,
    joint_draws,
    posterior_mean,
    resolve_index,
)

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
