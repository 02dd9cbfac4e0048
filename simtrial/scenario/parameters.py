"""Scenario parameters: a number or a distribution.

A parameter in a scenario is one of

- a number,
- ``{beta: [a, b]}`` — Beta(a, b),
- ``{gamma: [shape, rate]}`` — Gamma with the given shape and *rate*,
- ``{lognormal: [mu, sigma]}`` — exp(N(mu, sigma²)),
- ``{prior: FIT/VAR}`` or ``{prior: FIT/VAR[INDEX]}`` — a variable of a committed fit.

**Power** uses each parameter's *point value* (:func:`point_value`): its mean, unless the mean is
not a typical value of the distribution, then its median; **assurance** averages over its
distribution. Draws of several ``prior`` parameters from the same fit share one posterior draw
index (see :func:`draw_parameters`), because the fitted parameters are correlated.

The point-value rule (*choice*, DESIGN §4 says "mean"): the mean is used when it lies within the
central 90% interval of the distribution (between its 5% and 95% quantiles); otherwise the
distribution is so heavy-tailed that its mean describes no plausible value — the predictive loss
rate for a new indication, ``msc/loss_per_week_new`` of fit v1 (``msc_v1``), has mean 216 per
week (one draw in thousands dominates the sum) but median 0.013 — and the median is used. For a
variable of a fit, the fit's own tail diagnostic counts too: when ``priors/fitted/<fit>.json``
says ``point_summary: median`` (the Pareto k̂ of the draws' right tail is 0.7 or more, so their
mean is not a stable number: ``msc/loss_per_week_new`` of v2, mean 0.103, median 0.037,
k̂ 0.82), the median is used although the mean lies inside the interval. A scenario can ask for
``evaluate.point_values: mean`` (then such a parameter is refused) or ``median`` (every
distribution at its median). summary.json says, per parameter, which was used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Kind = Literal["probability", "rate", "real"]
PointRule = Literal["auto", "mean", "median"]


@dataclass(frozen=True)
class Fixed:
    """A known value."""

    value: float

    def mean(self) -> float:
        return self.value

    def quantile(self, q: float) -> float:
        return self.value

    def __str__(self) -> str:
        return f"{self.value:g}"


@dataclass(frozen=True)
class BetaParam:
    """Beta(a, b); mean a / (a + b)."""

    a: float
    b: float

    def mean(self) -> float:
        return self.a / (self.a + self.b)

    def quantile(self, q: float) -> float:
        from scipy import stats  # deferred: 1 s of import a run without quantiles never needs

        return float(stats.beta.ppf(q, self.a, self.b))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.beta(self.a, self.b, size=n)

    def __str__(self) -> str:
        return f"Beta({self.a:g}, {self.b:g})"


@dataclass(frozen=True)
class GammaParam:
    """Gamma(shape, rate); mean shape / rate."""

    shape: float
    rate: float

    def mean(self) -> float:
        return self.shape / self.rate

    def quantile(self, q: float) -> float:
        from scipy import stats

        return float(stats.gamma.ppf(q, self.shape, scale=1.0 / self.rate))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.gamma(self.shape, 1.0 / self.rate, size=n)

    def __str__(self) -> str:
        return f"Gamma({self.shape:g}, rate={self.rate:g})"


@dataclass(frozen=True)
class LogNormalParam:
    """exp(N(mu, sigma²)); mean exp(mu + sigma²/2)."""

    mu: float
    sigma: float

    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    def quantile(self, q: float) -> float:
        from scipy import stats

        return math.exp(self.mu + self.sigma * float(stats.norm.ppf(q)))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, size=n)

    def __str__(self) -> str:
        return f"LogNormal({self.mu:g}, {self.sigma:g})"


@dataclass(frozen=True)
class PriorParam:
    """A variable of a committed fit, ``FIT/VAR`` or ``FIT/VAR[INDEX]``."""

    fit: str
    var: str
    index: str | None = None

    def mean(self) -> float:
        from simtrial.priors import store

        return store.posterior_mean(self.fit, self.var, self.index)

    def quantile(self, q: float) -> float:
        from simtrial.priors import store

        return store.posterior_quantile(self.fit, self.var, self.index, q)

    def __str__(self) -> str:
        return f"{self.fit}/{self.var}" + (f"[{self.index}]" if self.index is not None else "")


Parameter = Fixed | BetaParam | GammaParam | LogNormalParam | PriorParam

_PRIOR_RE = re.compile(r"^([a-z0-9_]+)/([A-Za-z0-9_]+)(?:\[([A-Za-z0-9_]+)\])?$")

_ALLOWED = {
    "probability": "a number in [0, 1], {beta: [a, b]} or {prior: FIT/VAR[INDEX]}",
    "rate": "a number >= 0, {gamma: [shape, rate]}, {lognormal: [mu, sigma]} "
    "or {prior: FIT/VAR[INDEX]}",
    "real": "a number, {lognormal: [mu, sigma]} or {prior: FIT/VAR[INDEX]}",
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _pair(value: Any, name: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"{name} takes a list of two numbers, got {value!r}")
    a, b = (_number(v) for v in value)
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"{name} takes a list of two numbers, got {value!r}")
    return a, b


def parse_parameter(value: Any, kind: Kind) -> Parameter:
    """Turn the YAML value of a parameter into a :data:`Parameter`.

    Raises
    ------
    ValueError
        With a message saying what was given and what is allowed for this kind of parameter.
    """
    if isinstance(value, Fixed | BetaParam | GammaParam | LogNormalParam | PriorParam):
        return value
    number = _number(value)
    if number is not None:
        if not math.isfinite(number):
            raise ValueError(f"must be finite, got {value!r}")
        if kind == "probability" and not 0.0 <= number <= 1.0:
            raise ValueError(f"a probability must be in [0, 1], got {value!r}")
        if kind == "rate" and number < 0:
            raise ValueError(f"a rate must be >= 0, got {value!r}")
        return Fixed(number)
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "beta" and kind == "probability":
            a, b = _pair(arg, "beta")
            if a <= 0 or b <= 0:
                raise ValueError(f"beta parameters must be > 0, got {arg!r}")
            return BetaParam(a, b)
        if key == "gamma" and kind == "rate":
            shape, rate = _pair(arg, "gamma")
            if shape <= 0 or rate <= 0:
                raise ValueError(f"gamma shape and rate must be > 0, got {arg!r}")
            return GammaParam(shape, rate)
        if key == "lognormal" and kind in ("rate", "real"):
            mu, sigma = _pair(arg, "lognormal")
            if sigma <= 0:
                raise ValueError(f"lognormal sigma must be > 0, got {arg!r}")
            return LogNormalParam(mu, sigma)
        if key == "prior":
            match = _PRIOR_RE.fullmatch(arg) if isinstance(arg, str) else None
            if not match:
                raise ValueError(
                    f"prior reference must look like FIT/VAR or FIT/VAR[INDEX], got {arg!r}"
                )
            return PriorParam(match.group(1), match.group(2), match.group(3))
    raise ValueError(f"expected {_ALLOWED[kind]}, got {value!r}")


@dataclass(frozen=True)
class PointValue:
    """The value a parameter takes for power and type I error, and why."""

    value: float
    summary: Literal["value", "mean", "median"]
    mean: float
    median: float
    q05: float
    q95: float
    heavy_tail: bool = False  # the fit's tail diagnostic (Pareto k̂ >= 0.7) rules the mean out

    @property
    def mean_usable(self) -> bool:
        """Whether the mean lies within the central 90% interval and the fit does not flag its
        tail (see the module docstring)."""
        return self.q05 <= self.mean <= self.q95 and not self.heavy_tail

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "summary": self.summary,
            "mean": self.mean,
            "median": self.median,
            "q05": self.q05,
            "q95": self.q95,
            **({"heavy_tail": True} if self.heavy_tail else {}),
        }


class UnusableMean(ValueError):
    """``evaluate.point_values: mean`` for a parameter whose mean is not a usable summary."""


def point_value(param: Parameter, rule: PointRule = "auto") -> PointValue:
    """The point value of a parameter for power (see the module docstring for the rule).

    >>> point_value(LogNormalParam(0.0, 4.0)).summary  # mean e^8 ≈ 2981 > 95% quantile e^6.6
    'median'
    >>> point_value(BetaParam(2, 8)).value
    0.2
    """
    if isinstance(param, Fixed):
        v = param.value
        return PointValue(v, "value", v, v, v, v)
    mean, median = param.mean(), param.quantile(0.5)
    heavy = False
    if isinstance(param, PriorParam):
        from simtrial.priors import store

        heavy = store.point_summary(param.fit, param.var, param.index)[0] == "median"
    q05, q95 = param.quantile(0.05), param.quantile(0.95)
    pv = PointValue(mean, "mean", mean, median, q05, q95, heavy)
    if rule == "median" or (rule == "auto" and not pv.mean_usable):
        return PointValue(median, "median", mean, median, q05, q95, heavy)
    if rule == "mean" and not pv.mean_usable:
        if not q05 <= mean <= q95:
            why = (
                f"its mean {mean:.4g} lies outside its central 90% interval "
                f"[{q05:.4g}, {q95:.4g}] (median {median:.4g}), so power at the mean would "
                "describe no plausible value"
            )
        else:
            why = (
                f"its draws are heavy-tailed (the fit's Pareto k̂ of the right tail is 0.7 or "
                f"more), so their mean {mean:.4g} is no stable number (median {median:.4g})"
            )
        raise UnusableMean(
            f"{param}: {why}; use evaluate.point_values: auto (the median) or median"
        )
    return pv


def is_random(param: Parameter) -> bool:
    """True when the parameter has a distribution (assurance differs from power)."""
    return not isinstance(param, Fixed)


def draw_parameters(params: Sequence[Parameter], n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` joint samples of several parameters, shape ``(n, len(params))``.

    Parameters referring to the same fit are drawn with one shared posterior draw index
    (``simtrial.priors.store.joint_draws``), so their posterior correlation is kept; other
    distributions are independent; fixed values are repeated.
    """
    out = np.empty((n, len(params)))
    by_fit: dict[str, list[int]] = {}
    for j, p in enumerate(params):
        if isinstance(p, Fixed):
            out[:, j] = p.value
        elif isinstance(p, PriorParam):
            by_fit.setdefault(p.fit, []).append(j)
        else:
            out[:, j] = p.sample(n, rng)
    if by_fit:
        from simtrial.priors import store

        for fit, cols in sorted(by_fit.items()):
            refs = []
            for j in cols:
                p = params[j]
                assert isinstance(p, PriorParam)
                refs.append((p.var, p.index))
            out[:, cols] = store.joint_draws(fit, refs, n, rng)
    return out
