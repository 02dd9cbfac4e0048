"""Priors layer: evidence, PyMC fits, mixtures and effective sample size.

Only the fitting functions import PyMC; reading committed fits needs xarray alone.
"""
