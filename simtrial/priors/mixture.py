"""Beta and Gamma mixture priors and their conjugate updates.

A Python port of the mixture toolkit of the R package RBesT (Weber, Li, Seaman, Kakizume,
Schmidli, "Applying meta-analytic-predictive priors with the R Bayesian evidence synthesis
tools", J Stat Softw 100(19), 2021): ``mixbeta``/``mixgamma`` become :class:`BetaMixture` and
:class:`GammaMixture`, ``postmix`` becomes ``posterior``, ``automixfit`` becomes
:func:`fit_beta_mixture`/:func:`fit_gamma_mixture` (EM fitting, in :mod:`simtrial.priors.em`;
also ``simtrial.priors.fit_beta_mixture``) and ``robustify`` is :func:`robustify`.
Pure NumPy/SciPy; every random function takes a :class:`numpy.random.Generator`.

A mixture density is :math:`p(\\theta) = \\sum_k w_k\\, p_k(\\theta)` with Beta(:math:`a_k,
b_k`) or Gamma(shape :math:`a_k`, rate :math:`b_k`) components.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from scipy import optimize, special, stats

from simtrial.errors import PriorError

__all__ = [
    "BetaMixture",
    "GammaMixture",
    "robustify",
]

_WEIGHT_SUM_TOL = 1e-6


def _as_vector(name: str, value: Any) -> np.ndarray:
    arr = np.array(value, dtype=float, ndmin=1)  # a copy: the caller's array stays writable
    if arr.ndim != 1 or arr.size == 0:
        raise PriorError(f'"{name}" must be a non-empty 1-d sequence, got shape {arr.shape}')
    if not np.all(np.isfinite(arr)):
        raise PriorError(f'"{name}" must be finite, got {arr.tolist()}')
    return arr


@dataclass(frozen=True, eq=False, repr=False)
class _ConjugateMixture:
    """Fields, validation and the methods shared by Beta and Gamma mixtures."""

    weights: np.ndarray
    a: np.ndarray
    b: np.ndarray

    _kind: ClassVar[str] = "mixture"

    def __post_init__(self) -> None:
        w = _as_vector("weights", self.weights)
        a = _as_vector("a", self.a)
        b = _as_vector("b", self.b)
        if not (w.size == a.size == b.size):
            raise PriorError(
                f'"weights", "a" and "b" must have the same length, got {w.size}, {a.size}, '
                f"{b.size}"
            )
        if np.any(w < 0):
            raise PriorError(f'"weights" must be >= 0, got {w.tolist()}')
        if abs(w.sum() - 1.0) > _WEIGHT_SUM_TOL:
            raise PriorError(f'"weights" must sum to 1, got sum {w.sum():.9g} ({w.tolist()})')
        if np.any(a <= 0):
            raise PriorError(f'"a" must be > 0, got {a.tolist()}')
        if np.any(b <= 0):
            raise PriorError(f'"b" must be > 0, got {b.tolist()}')
        if abs(w.sum() - 1.0) > 1e-12:
            w = w / w.sum()
        for name, arr in (("weights", w), ("a", a), ("b", b)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    # -- component-level primitives (implemented by subclasses) -------------------------------
    def _comp_logpdf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _comp_cdf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _comp_ppf(self, q: float) -> np.ndarray:
        raise NotImplementedError

    def _comp_mean_m2(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _draw(self, rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    _support: ClassVar[tuple[float, float]] = (0.0, np.inf)

    # -- shared API -----------------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        """Number of mixture components."""
        return int(self.weights.size)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, f), getattr(other, f)) for f in ("weights", "a", "b")
        )

    def __hash__(self) -> int:
        return hash(
            (type(self).__name__, self.weights.tobytes(), self.a.tobytes(), self.b.tobytes())
        )

    def logpdf(self, x: Any) -> np.ndarray:
        """Log density :math:`\\log \\sum_k w_k p_k(x)` (log-sum-exp; ``-inf`` off support)."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            logw = np.log(self.weights)
        return special.logsumexp(logw + self._comp_logpdf(x[..., None]), axis=-1)

    def pdf(self, x: Any) -> np.ndarray:
        """Density :math:`\\sum_k w_k p_k(x)`."""
        return np.exp(self.logpdf(x))

    def cdf(self, x: Any) -> np.ndarray:
        """Distribution function :math:`\\sum_k w_k F_k(x)`."""
        x = np.asarray(x, dtype=float)
        return np.sum(self.weights * self._comp_cdf(x[..., None]), axis=-1)

    def ppf(self, q: Any) -> np.ndarray:
        """Quantile function, by Brent's root-finding on :meth:`cdf`.

        The root is bracketed exactly: since :math:`F = \\sum_k w_k F_k`, the ``q``-quantile lies
        between the smallest and the largest component ``q``-quantile. ``q`` outside [0, 1]
        gives ``nan``.
        """
        q_arr = np.asarray(q, dtype=float)
        out = np.full(q_arr.shape, np.nan)
        lo_s, hi_s = self._support
        for idx, qi in np.ndenumerate(q_arr):
            if not 0.0 <= qi <= 1.0:
                continue
            if qi == 0.0:
                out[idx] = lo_s
                continue
            if qi == 1.0:
                out[idx] = hi_s
                continue
            comp_q = self._comp_ppf(float(qi))
            lo, hi = float(comp_q.min()), float(comp_q.max())
            f_lo, f_hi = float(self.cdf(lo)) - qi, float(self.cdf(hi)) - qi
            if f_lo >= 0 or f_hi <= 0:  # a one-point bracket (or rounding at its ends)
                out[idx] = lo if f_lo >= 0 else hi
                continue
            out[idx] = optimize.brentq(
                lambda t, qi=qi: float(self.cdf(t)) - qi,
                lo,
                hi,
                xtol=max(1e-300, 1e-15 * hi),
                rtol=4 * np.finfo(float).eps,
                maxiter=200,
            )
        return out if out.ndim else out[()]

    def mean(self) -> float:
        """Mixture mean :math:`\\sum_k w_k E_k[\\theta]`."""
        m, _ = self._comp_mean_m2()
        return float(np.sum(self.weights * m))

    def var(self) -> float:
        """Mixture variance :math:`\\sum_k w_k E_k[\\theta^2] - (\\sum_k w_k E_k[\\theta])^2`."""
        m, m2 = self._comp_mean_m2()
        mean = np.sum(self.weights * m)
        return float(np.sum(self.weights * m2) - mean**2)

    def sd(self) -> float:
        """Mixture standard deviation."""
        return float(np.sqrt(self.var()))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` values: a component index from ``weights``, then a draw from it.

        Parameters
        ----------
        n : int
            Number of draws (>= 0).
        rng : numpy.random.Generator
            Source of randomness.
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f'"rng" must be a numpy.random.Generator, got {type(rng).__name__}')
        if int(n) != n or n < 0:
            raise PriorError(f'"n" must be an integer >= 0, got {n!r}')
        k = rng.choice(self.n_components, size=int(n), p=self.weights)
        return self._draw(rng, self.a[k], self.b[k])

    def to_dict(self) -> list[dict[str, float]]:
        """Components as ``[{"weight": w, "a": a, "b": b}, ...]`` (JSON-ready)."""
        return [
            {"weight": float(w), "a": float(a), "b": float(b)}
            for w, a, b in zip(self.weights, self.a, self.b, strict=True)
        ]

    @classmethod
    def from_dict(cls, components: Sequence[Mapping[str, float]]) -> Self:
        """Inverse of :meth:`to_dict`."""
        if isinstance(components, Mapping) or not isinstance(components, Sequence):
            raise PriorError(
                f"{cls.__name__}.from_dict expects a list of "
                f'{{"weight", "a", "b"}} mappings, got {type(components).__name__}'
            )
        try:
            w = [float(c["weight"]) for c in components]
            a = [float(c["a"]) for c in components]
            b = [float(c["b"]) for c in components]
        except (KeyError, TypeError) as exc:
            raise PriorError(
                f'{cls.__name__}.from_dict: every component needs keys "weight", "a", "b" '
                f"({exc!r} in {components!r})"
            ) from None
        return cls(np.array(w), np.array(a), np.array(b))

    def __str__(self) -> str:
        names = [f"comp{k + 1}" for k in range(self.n_components)]
        rows = [("w", self.weights), ("a", self.a), ("b", self.b)]
        width = max(10, *(len(f"{v:.4g}") + 2 for _, r in rows for v in r))
        lines = [f"{self._kind} with {self.n_components} component(s)"]
        lines.append("      " + "".join(f"{n:>{width}}" for n in names))
        for label, vals in rows:
            lines.append(f"  {label:<4}" + "".join(f"{v:>{width}.4g}" for v in vals))
        lines.append(f"  mean {self.mean():.4g}, sd {self.sd():.4g}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(weights={self.weights.tolist()}, a={self.a.tolist()}, "
            f"b={self.b.tolist()})"
        )


@dataclass(frozen=True, eq=False, repr=False)
class BetaMixture(_ConjugateMixture):
    """Mixture of Beta densities, the conjugate prior of a binomial response rate.

    Parameters
    ----------
    weights : array_like
        Component weights, >= 0, summing to 1 (to within 1e-6; they are renormalised).
    a, b : array_like
        Beta shape parameters, > 0.

    Examples
    --------
    >>> mix = BetaMixture([0.2, 0.8], [1.0, 10.0], [1.0, 2.0])
    >>> round(mix.mean(), 4)
    0.7667
    >>> post = mix.posterior(r=18, n=20)
    """

    _kind: ClassVar[str] = "BetaMixture"
    _support: ClassVar[tuple[float, float]] = (0.0, 1.0)

    def _comp_logpdf(self, x: np.ndarray) -> np.ndarray:
        return stats.beta.logpdf(x, self.a, self.b)

    def _comp_cdf(self, x: np.ndarray) -> np.ndarray:
        return stats.beta.cdf(x, self.a, self.b)

    def _comp_ppf(self, q: float) -> np.ndarray:
        return special.betaincinv(self.a, self.b, q)

    def _comp_mean_m2(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.a + self.b
        return self.a / n, self.a * (self.a + 1) / (n * (n + 1))

    def _draw(self, rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return rng.beta(a, b)

    def posterior(self, r: float, n: float) -> BetaMixture:
        """Conjugate update with ``r`` responders out of ``n`` (RBesT ``postmix``).

        Component k becomes Beta(:math:`a_k + r, b_k + n - r`) and its weight is proportional to
        the marginal (beta-binomial) likelihood of the data under that component,

        .. math:: w_k' \\propto w_k\\, B(a_k + r, b_k + n - r) / B(a_k, b_k)

        (the binomial coefficient is common to all components and cancels); Schmidli et al.,
        Biometrics 70:1023-1032 (2014), and RBesT's ``postmix`` documentation.
        """
        r, n = float(r), float(n)
        if not (np.isfinite(n) and np.isfinite(r) and 0 <= r <= n):
            raise PriorError(f'need 0 <= "r" <= "n" (finite), got r={r}, n={n}')
        a_post, b_post = self.a + r, self.b + n - r
        with np.errstate(divide="ignore"):
            logw = np.log(self.weights) + special.betaln(a_post, b_post)
        logw -= special.betaln(self.a, self.b)
        return BetaMixture(np.exp(logw - special.logsumexp(logw)), a_post, b_post)


@dataclass(frozen=True, eq=False, repr=False)
class GammaMixture(_ConjugateMixture):
    """Mixture of Gamma densities (shape ``a``, **rate** ``b``), conjugate to a Poisson rate.

    Parameters
    ----------
    weights : array_like
        Component weights, >= 0, summing to 1 (to within 1e-6; they are renormalised).
    a : array_like
        Shapes, > 0.
    b : array_like
        Rates, > 0 (the component mean is ``a / b``).

    Examples
    --------
    >>> mix = GammaMixture([0.3, 0.7], [20.0, 50.0], [4.0, 10.0])
    >>> mix.mean()
    5.0
    """

    _kind: ClassVar[str] = "GammaMixture (shape a, rate b)"
    _support: ClassVar[tuple[float, float]] = (0.0, np.inf)

    def _comp_logpdf(self, x: np.ndarray) -> np.ndarray:
        return stats.gamma.logpdf(x, self.a, scale=1.0 / self.b)

    def _comp_cdf(self, x: np.ndarray) -> np.ndarray:
        return stats.gamma.cdf(x, self.a, scale=1.0 / self.b)

    def _comp_ppf(self, q: float) -> np.ndarray:
        return special.gammaincinv(self.a, q) / self.b

    def _comp_mean_m2(self) -> tuple[np.ndarray, np.ndarray]:
        m = self.a / self.b
        return m, self.a / self.b**2 + m**2

    def _draw(self, rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return rng.gamma(a, 1.0 / b)

    def posterior(self, events: float, exposure: float) -> GammaMixture:
        """Conjugate update with ``events`` Poisson events over ``exposure`` (RBesT ``postmix``).

        Component k becomes Gamma(:math:`a_k + y, b_k + E`) and its weight is proportional to
        the marginal (negative-binomial) likelihood of :math:`y` events in exposure :math:`E`,

        .. math:: w_k' \\propto w_k\\, \\frac{b_k^{a_k}}{\\Gamma(a_k)}
                  \\frac{\\Gamma(a_k + y)}{(b_k + E)^{a_k + y}}

        (factors common to all components, :math:`E^y / y!`, cancel).
        """
        y, e = float(events), float(exposure)
        if not (np.isfinite(y) and np.isfinite(e) and y >= 0 and e >= 0):
            raise PriorError(
                f'"events" and "exposure" must be finite and >= 0, got {events}, {exposure}'
            )
        a_post, b_post = self.a + y, self.b + e
        with np.errstate(divide="ignore"):
            logw = np.log(self.weights)
        logw = (
            logw
            + self.a * np.log(self.b)
            - special.gammaln(self.a)
            + special.gammaln(a_post)
            - a_post * np.log(b_post)
        )
        return GammaMixture(np.exp(logw - special.logsumexp(logw)), a_post, b_post)


def robustify(
    mix: BetaMixture | GammaMixture,
    weight: float,
    mean: float | None = None,
    n: float = 1.0,
) -> BetaMixture | GammaMixture:
    """Add a weakly informative component (RBesT ``robustify``; Schmidli et al. 2014).

    The existing weights are scaled by ``1 - weight`` and a robust component with weight
    ``weight`` is appended last:

    - Beta: Beta(:math:`m (n+1), (1-m)(n+1)`). As in RBesT the sample size is ``n + 1`` so that
      the default (``mean=0.5``, ``n=1``) is the uniform Beta(1, 1) rather than the strict
      unit-information Beta(1/2, 1/2).
    - Gamma (Poisson): Gamma(:math:`m n, n`), i.e. mean ``m`` worth ``n`` exposure units; the
      default mean is the mixture mean (RBesT's default; set it to the null value instead).

    Parameters
    ----------
    mix : BetaMixture or GammaMixture
        Prior to robustify.
    weight : float
        Weight of the robust component, in [0, 1].
    mean : float, optional
        Mean of the robust component: default 0.5 (Beta) or ``mix.mean()`` (Gamma).
    n : float
        Information of the robust component in observations, >= 0 (default 1).

    Examples
    --------
    >>> rob = robustify(BetaMixture([0.2, 0.8], [8.0, 10.0], [3.0, 2.0]), weight=0.1)
    >>> rob.weights.round(12).tolist(), rob.a.tolist()[-1], rob.b.tolist()[-1]
    ([0.18, 0.72, 0.1], 1.0, 1.0)
    """
    if not (np.isfinite(weight) and 0.0 <= weight <= 1.0):
        raise PriorError(f'"weight" must be in [0, 1], got {weight}')
    if not (np.isfinite(n) and n >= 0):
        raise PriorError(f'"n" must be finite and >= 0, got {n}')
    weights = np.append(mix.weights * (1.0 - weight), weight)
    if isinstance(mix, BetaMixture):
        m = 0.5 if mean is None else float(mean)
        if not 0.0 < m < 1.0:
            raise PriorError(f'"mean" of a robust Beta component must be in (0, 1), got {m}')
        return BetaMixture(
            weights, np.append(mix.a, m * (n + 1.0)), np.append(mix.b, (1.0 - m) * (n + 1.0))
        )
    if isinstance(mix, GammaMixture):
        m = mix.mean() if mean is None else float(mean)
        if not (np.isfinite(m) and m > 0 and n > 0):
            raise PriorError(
                f'robust Gamma component needs "mean" > 0 and "n" > 0, got mean={m}, n={n}'
            )
        return GammaMixture(weights, np.append(mix.a, m * n), np.append(mix.b, n))
    raise TypeError(f'"mix" must be a BetaMixture or GammaMixture, got {type(mix).__name__}')
