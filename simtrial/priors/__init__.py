"""Priors layer: evidence, PyMC fits, mixtures and effective sample size.

Only the fitting functions import PyMC; reading committed fits needs xarray alone.
"""

from simtrial.priors.evidence import Evidence, load_all, load_evidence
from simtrial.priors.store import (
    available_fits,
    describe,
    fitted_dir,
    joint_draws,
    posterior_mean,
    resolve_index,
)

__all__ = [
    "Evidence",
    "available_fits",
    "describe",
    "fitted_dir",
    "joint_draws",
    "load_all",
    "load_evidence",
    "posterior_mean",
    "resolve_index",
]
