"""Effective sample size (ESS) of Beta and Gamma mixture priors.

Port of RBesT's ``ess()`` (``R/mixess.R``) for ``betaMix`` (binomial likelihood) and
``gammaMix`` (Poisson likelihood) with its three methods:

``"elir"``
    Expected local-information ratio, Neuenschwander, Weber, Schmidli & O'Hagan (2020),
    "Predictively consistent prior effective sample sizes", Biometrics 76(2):578-587:

    .. math:: \\mathrm{ESS} = E_{p}\\left[ \\frac{i_p(\\theta)}{i_F(\\theta)} \\right],
              \\qquad i_p(\\theta) = -\\frac{d^2}{d\\theta^2} \\log p(\\theta),

    with the Fisher information of one observation :math:`i_F(\\theta) = 1/(\\theta(1-\\theta))`
    (Bernoulli) or :math:`1/\\theta` (Poisson, unit exposure). The only predictively consistent
    ESS: its prior-predictive average after ``n`` more observations is the ESS plus ``n``.
``"moment"``
    Match the mixture's mean and variance to one Beta (Gamma) and report its
    :math:`a + b` (its rate :math:`b`); conservative for mixtures.
``"morita"``
    Morita, Thall & Müller (2008), "Determining the effective sample size of a parametric
    prior", Biometrics 64(2):595-602, in RBesT's variant (Eq. 9 of Neuenschwander et al., 2020):
    evaluated at the prior *mode* and without an integer search; liberal for mixtures.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize, special

from simtrial._modules import make_callable
from simtrial.errors import PriorError
from simtrial.priors.mixture import BetaMixture, GammaMixture

__all__ = ["ess", "MultimodalPriorWarning"]

_METHODS = ("elir", "moment", "morita")


class MultimodalPriorWarning(UserWarning):
    """The prior has several modes; the Morita ESS uses the highest, but is ill-defined."""


def ess(mix: BetaMixture | GammaMixture, method: str = "elir", *, s: float = 100.0) -> float:
    """Effective sample size of a Beta (binomial) or Gamma (Poisson) mixture prior.

    Parameters
    ----------
    mix : BetaMixture or GammaMixture
        The prior. A Gamma mixture is read as the prior of a Poisson rate per unit exposure.
    method : {"elir", "moment", "morita"}
        ESS definition (see the module docstring); ``"elir"`` is RBesT's default.
    s : float
        Morita only: the flattening factor of the "vague" prior, > 0 (RBesT default 100).

    Returns
    -------
    float
        The ESS in observations (Beta: patients; Gamma: units of exposure).

    Notes
    -----
    **ELIR.** For a mixture :math:`p = \\sum_j w_j p_j` with responsibilities
    :math:`r_j = w_j p_j / p` and scores :math:`g_j = (\\log p_j)'`,

    .. math:: i_p = \\sum_j r_j\\, i_{p_j} - \\sum_j r_j (g_j - \\bar g)^2,\\qquad
              \\bar g = \\sum_j r_j g_j,

    so :math:`\\mathrm{ESS} = \\sum_j w_j E_j[i_{p_j}/i_F]
    - \\sum_j w_j E_j[(g_j - \\bar g)^2/i_F]`.
    The first term is closed-form: :math:`E[i_{p}/i_F] = a + b` for Beta(a, b) with
    ``a, b > 1`` (a term whose shape is exactly 1 contributes 0, its curvature being 0) and
    :math:`b` for Gamma(a, b) with ``a > 1``. The second, non-negative term is integrated
    numerically per component on its probability scale with double-exponential (tanh-sinh)
    quadrature, which handles the integrable end-point singularities. A single Beta(a, b) thus
    gives exactly ``a + b`` and a single Gamma(a, b) exactly ``b`` (Neuenschwander et al. 2020).
    As in RBesT, ELIR needs every ``a >= 1`` (and ``b >= 1`` for Beta), otherwise the defining
    integral diverges: fit with ``constrain_gt1=True``.

    **Morita (RBesT variant).** With :math:`\\hat\\theta` the mode of the mixture,

    .. math:: \\mathrm{ESS} = \\frac{i_p(\\hat\\theta) - i_{p_0}(\\hat\\theta)}
                                    {E_{Y_1}[\\,i_{Y_1}(\\hat\\theta)\\,]},

    where :math:`p_0` is the flattened prior Beta(:math:`\\hat\\theta/s, (1-\\hat\\theta)/s`)
    (Poisson: Gamma(:math:`\\hat\\theta/s, 1/s`)) and the denominator is the expected
    information of one observation under the prior predictive: Binomial
    :math:`P(Y=1)/\\hat\\theta^2 + P(Y=0)/(1-\\hat\\theta)^2`; Poisson
    :math:`E[Y_1]/\\hat\\theta^2`. For a single Beta(a, b) this is
    :math:`a + b - 1/(s\\,\\hat\\theta(1-\\hat\\theta)E[i])`, i.e. Morita et al.'s ``a + b`` as
    :math:`s \\to \\infty`. The mode is found as in RBesT's ``mixmode`` (a bounded search within
    each component's central 99% interval, the highest density wins); several distinct modes
    raise :class:`MultimodalPriorWarning`.

    Deviation from RBesT: for the Poisson Morita denominator RBesT sums the prior-predictive
    pmf over its central ``1 - 1e-4`` range; here :math:`E[Y_1]` is used exactly (it equals
    the prior mean), which differs by the omitted tail mass (< 1e-3 relative).

    Examples
    --------
    >>> round(ess(BetaMixture([1.0], [5.0], [15.0])), 6)
    20.0
    """
    if method not in _METHODS:
        raise PriorError(f'"method" must be one of {_METHODS}, got {method!r}')
    if not isinstance(mix, BetaMixture | GammaMixture):
        raise TypeError(f'"mix" must be a BetaMixture or GammaMixture, got {type(mix).__name__}')
    if method == "moment":
        return _moment(mix)
    if method == "elir":
        return _elir(mix)
    if not (np.isfinite(s) and s > 0):
        raise PriorError(f'"s" must be finite and > 0, got {s}')
    return _morita(mix, float(s))


# ------------------------------------------------------------------------------------------------
# moment
# ------------------------------------------------------------------------------------------------


def _moment(mix: BetaMixture | GammaMixture) -> float:
    """Moment matching (RBesT ``ms2beta``/``ms2gamma``): Beta n = m(1-m)/v - 1; Gamma b = m/v."""
    m, v = mix.mean(), mix.var()
    if isinstance(mix, BetaMixture):
        return float(m * (1.0 - m) / v - 1.0)
    return float(m / v)


# ------------------------------------------------------------------------------------------------
# local information of a mixture
# ------------------------------------------------------------------------------------------------


def _is_beta(mix: BetaMixture | GammaMixture) -> bool:
    return isinstance(mix, BetaMixture)


def _log_resp(mix: BetaMixture | GammaMixture, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log responsibilities r_j(x) = w_j p_j(x) / p(x), components on the last axis.

    ``y`` is ``1 - x`` for Beta (passed separately to keep precision near 1); unused for Gamma.
    """
    a, b = mix.a, mix.b
    with np.errstate(divide="ignore"):
        logw = np.log(mix.weights)
    if _is_beta(mix):
        lp = (a - 1) * np.log(x) + (b - 1) * np.log(y) - special.betaln(a, b)
    else:
        lp = (a - 1) * np.log(x) - b * x + a * np.log(b) - special.gammaln(a)
    lj = logw + lp
    return lj - special.logsumexp(lj, axis=-1, keepdims=True)


def _score_dev(
    mix: BetaMixture | GammaMixture, j: np.ndarray | int, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """sqrt(1/i_F) * (g_j - gbar), computed as sum_i r_i (g_j - g_i) / sqrt(i_F) (no overflow).

    Beta: g_j - g_i = (a_j - a_i)/x - (b_j - b_i)/y and 1/i_F = x y.
    Gamma: g_j - g_i = (a_j - a_i)/x - (b_j - b_i) and 1/i_F = x.
    ``x``, ``y`` carry a trailing singleton axis; ``j`` indexes the component of interest.
    """
    r = np.exp(_log_resp(mix, x, y))
    da = np.take(mix.a, j)[..., None] - mix.a
    db = np.take(mix.b, j)[..., None] - mix.b
    if _is_beta(mix):
        term = da * np.sqrt(y / x) - db * np.sqrt(x / y)
    else:
        term = da / np.sqrt(x) - db * np.sqrt(x)
    return np.sum(r * term, axis=-1)


def _local_info(mix: BetaMixture | GammaMixture, x: float) -> float:
    """i_p(x) = -d^2/dx^2 log p(x) = sum_j r_j i_j - sum_j r_j (g_j - gbar)^2 (see ``ess``)."""
    xs = np.array([float(x)])[:, None]
    ys = 1.0 - xs
    r = np.exp(_log_resp(mix, xs, ys))[0]
    a, b = mix.a, mix.b
    comp = (a - 1) / x**2 + ((b - 1) / (1 - x) ** 2 if _is_beta(mix) else 0.0)
    inv_fisher = x * (1 - x) if _is_beta(mix) else x
    dev2 = np.array(
        [_score_dev(mix, j, xs, ys)[0] ** 2 / inv_fisher for j in range(mix.n_components)]
    )
    return float(np.sum(r * comp) - np.sum(r * dev2))


# ------------------------------------------------------------------------------------------------
# ELIR
# ------------------------------------------------------------------------------------------------

_DE_T = 6.0  # sigma(-pi sinh 6) ~ 1e-274: nodes reach within 1e-274 of a singular end point


def _de_rule(level: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tanh-sinh nodes on (0, 1): u = sigma(pi sinh t), 1 - u, and weights du/dt * h.

    Takahasi & Mori (1974), Publ RIMS 9:721-741; the logistic form keeps both u and 1 - u
    accurate near either end.
    """
    h = 2.0**-level
    t = np.arange(-_DE_T, _DE_T + h / 2, h)
    z = np.pi * np.sinh(t)
    u, one_minus_u = special.expit(z), special.expit(-z)
    wts = u * one_minus_u * np.pi * np.cosh(t) * h
    return u, one_minus_u, wts


def _betaincinv(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Inverse regularised incomplete beta; for the far tail (where SciPy's solver returns NaN,
    below ~1e-180) the leading term of I_x(a, b) = x^a / (a B(a, b)) (1 + O(x)) is inverted."""
    x = special.betaincinv(a, b, p)
    bad = ~np.isfinite(x) | (x <= 0)
    if np.any(bad):
        with np.errstate(divide="ignore"):
            tail = np.exp((np.log(p) + np.log(a) + special.betaln(a, b)) / a)
        x = np.where(bad, tail, x)
    return x


def _quantiles(
    mix: BetaMixture | GammaMixture, j: np.ndarray, p: np.ndarray, upper: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Component-j point with lower-tail (or, if ``upper``, upper-tail) probability ``p``.

    Returns (x, y) with y = 1 - x for Beta, each computed from its own tail for precision.
    """
    a, b = mix.a[j], mix.b[j]
    if _is_beta(mix):
        if upper:
            y = _betaincinv(b, a, p)
            return 1.0 - y, y
        x = _betaincinv(a, b, p)
        return x, 1.0 - x
    x = (special.gammainccinv(a, p) if upper else special.gammaincinv(a, p)) / b
    return x, 1.0 - x


def _breakpoints(mix: BetaMixture | GammaMixture, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Split component j's probability scale where the other components have mass.

    Returns sorted breakpoints on [0, 0.5] for the lower half (lower-tail probability u) and on
    [0, 0.5] for the upper half (upper-tail probability 1 - u).
    """
    probs = np.array([1e-3, 0.05, 0.25, 0.5, 0.75, 0.95, 1 - 1e-3])
    pts = []
    for i in range(mix.n_components):
        if i == j:
            continue
        xi, _ = _quantiles(mix, np.full(probs.shape, i), probs, upper=False)
        pts.append(xi)
    lower, upper = [0.0, 0.5], [0.0, 0.5]
    if pts:
        xs = np.concatenate(pts)
        a, b = mix.a[j], mix.b[j]
        if _is_beta(mix):
            cdf, sf = special.betainc(a, b, xs), special.betainc(b, a, 1.0 - xs)
        else:
            cdf, sf = special.gammainc(a, b * xs), special.gammaincc(a, b * xs)
        lower += [c for c in cdf if 1e-12 < c < 0.5 - 1e-9]
        upper += [c for c in sf if 1e-12 < c < 0.5 - 1e-9]
    return np.unique(lower), np.unique(upper)


def _elir_correction(mix: BetaMixture | GammaMixture, scale: float) -> float:
    """sum_j w_j E_j[(g_j - gbar)^2 / i_F], by tanh-sinh quadrature on each component's
    probability scale (split at breakpoints), doubling the node density until two successive
    levels agree to 1e-10 * ``scale`` (the leading term) or better."""
    if mix.n_components == 1:
        return 0.0
    pieces = []  # (component, lo, hi, upper?)
    for j in range(mix.n_components):
        if mix.weights[j] == 0:
            continue
        lower, upper = _breakpoints(mix, j)
        pieces += [(j, lo, hi, False) for lo, hi in zip(lower[:-1], lower[1:], strict=True)]
        pieces += [(j, lo, hi, True) for lo, hi in zip(upper[:-1], upper[1:], strict=True)]
    comp = np.array([p[0] for p in pieces])
    lo = np.array([p[1] for p in pieces])[:, None]
    hi = np.array([p[2] for p in pieces])[:, None]
    up = np.array([p[3] for p in pieces])[:, None]
    prev = np.nan
    for level in range(3, 10):
        u, _, wts = _de_rule(level)
        p = lo + (hi - lo) * u  # (pieces, nodes) tail probabilities
        jj = np.broadcast_to(comp[:, None], p.shape)
        with np.errstate(under="ignore"):
            x_lo, y_lo = _quantiles(mix, jj, p, upper=False)
            x_up, y_up = _quantiles(mix, jj, p, upper=True)
            x = np.where(up, x_up, x_lo)
            y = np.where(up, y_up, y_lo)
            dev = _score_dev(mix, jj, x[..., None], y[..., None])
        vals = dev**2
        if not np.all(np.isfinite(vals)):
            raise PriorError(
                f"ELIR integrand not finite for {mix!r}; use method='moment' for this prior"
            )
        integral = float(np.sum(mix.weights[comp] * np.sum(vals * (hi - lo) * wts, axis=1)))
        if abs(integral - prev) <= 1e-10 * (scale + 1.0):
            return integral
        prev = integral
    raise PriorError(
        f"ELIR quadrature did not converge for {mix!r} (last change "
        f"{abs(integral - prev):.3g}); use method='moment' for this prior"
    )


def _elir(mix: BetaMixture | GammaMixture) -> float:
    a, b = mix.a, mix.b
    bad = (a < 1) | (b < 1) if _is_beta(mix) else (a < 1)
    if np.any(bad & (mix.weights > 0)):
        params = "a and b" if _is_beta(mix) else "shapes a"
        raise PriorError(
            f"ELIR ESS needs all {params} >= 1 (the defining integral diverges otherwise), got "
            f"a={a.tolist()}, b={b.tolist()}; refit with constrain_gt1=True or use "
            "method='moment'"
        )
    # leading term: E_j[i_j / i_F] = [a_j != 1] b_j + [b_j != 1] a_j (Beta), [a_j != 1] b_j (Gamma)
    if _is_beta(mix):
        lead = np.where(a != 1, b, 0.0) + np.where(b != 1, a, 0.0)
    else:
        lead = np.where(a != 1, b, 0.0)
    total = float(np.sum(mix.weights * lead))
    return total - _elir_correction(mix, total)


# ------------------------------------------------------------------------------------------------
# Morita
# ------------------------------------------------------------------------------------------------


def _mode(mix: BetaMixture | GammaMixture) -> float:
    """Highest mode of the mixture (RBesT ``mixmode``): maximise the mixture log density within
    each component's central 99% interval and keep the best; warn if the local maxima differ."""
    found = []
    for k in range(mix.n_components):
        if mix.weights[k] == 0:
            continue
        lo_x = float(_quantiles(mix, np.array(k), np.array(0.005), upper=False)[0])
        hi_x = float(_quantiles(mix, np.array(k), np.array(0.005), upper=True)[0])
        res = optimize.minimize_scalar(
            lambda t: -float(mix.logpdf(t)),
            bounds=(lo_x, hi_x),
            method="bounded",
            options={"xatol": 1e-12 * max(hi_x, 1e-300)},
        )
        interior = lo_x + 1e-8 * (hi_x - lo_x) < res.x < hi_x - 1e-8 * (hi_x - lo_x)
        found.append((float(-res.fun), float(res.x), interior))
    interior_pts = [f for f in found if f[2]]
    edge_best = max((f for f in found if not f[2]), default=None)
    if not interior_pts or (
        edge_best is not None and edge_best[0] > max(interior_pts)[0] + 1e-9 * abs(edge_best[0])
    ):
        raise PriorError(
            f"the density of {mix!r} peaks at the edge of its support, so it has no interior "
            "mode and the Morita ESS is undefined; use method='elir' or 'moment'"
        )
    best = max(interior_pts)
    modes = sorted(x for _, x, interior in found if interior)
    distinct = [m for i, m in enumerate(modes) if i == 0 or m - modes[i - 1] > 1e-4 * abs(m)]
    if len(distinct) > 1:
        warnings.warn(
            f"the prior has {len(distinct)} modes ({', '.join(f'{m:.4g}' for m in distinct)}); "
            f"the Morita ESS uses the highest, at {best[1]:.4g}, but is ill-defined for "
            "multimodal priors; prefer method='elir'",
            MultimodalPriorWarning,
            stacklevel=3,
        )
    return best[1]


def _morita(mix: BetaMixture | GammaMixture, s: float) -> float:
    m = _mode(mix)
    info = _local_info(mix, m)
    if _is_beta(mix):
        info0 = (m / s - 1) / m**2 + ((1 - m) / s - 1) / (1 - m) ** 2
        p0 = 1.0 - mix.mean()  # prior predictive P(Y = 0) of one Bernoulli observation
        e_info = p0 / (1 - m) ** 2 + (1 - p0) / m**2
    else:
        info0 = (m / s - 1) / m**2
        e_info = mix.mean() / m**2  # E[Y_1] / m^2 for a Poisson count in unit exposure
    return float((info - info0) / e_info)


make_callable(__name__)  # ``from simtrial.priors import ess; ess(mix)`` (simtrial._modules)
