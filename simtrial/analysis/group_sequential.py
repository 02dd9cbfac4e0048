"""Group-sequential efficacy boundaries by Lan–DeMets alpha spending.

The canonical joint distribution (Jennison & Turnbull 2000, §3.1): at looks with information
``I_1 < ... < I_K`` the standardised statistics satisfy ``Z_k ~ N(θ√I_k, 1)`` with independent
increments, ``Cov(Z_j, Z_k) = √(I_j/I_k)`` for j ≤ k. Boundaries are found look by look so that
the probability of first crossing at look k under θ = 0 equals the alpha spent between looks
k − 1 and k, by recursive numerical integration of the sub-densities of Z_k on the continuation
region (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19), not simulation:

    g_1(z) = φ(z − θ√I_1)
    g_k(z) = ∫_{C_{k−1}} g_{k−1}(u) · √(I_k/Δ_k) · φ((z√I_k − u√I_{k−1} − θΔ_k)/√Δ_k) du,

``Δ_k = I_k − I_{k−1}``. The exit probabilities at look k are integrals of ``g_{k−1}`` against
normal tail probabilities (closed form in the new increment), computed with Simpson's rule on a
fine grid over the continuation region.

Spending functions (Lan & DeMets 1983; as in rpact ``typeOfDesign = "asOF"``, ``"asP"`` and
gsDesign ``sfLDOF``, ``sfLDPocock``), for a one-sided level α and information fraction t:

- O'Brien–Fleming type: ``α(t) = 2 − 2Φ(Φ⁻¹(1 − α/2)/√t)``;
- Pocock type: ``α(t) = α·ln(1 + (e − 1)t)``.

Two-sided designs are symmetric: each side spends the one-sided function at level α/2, so a
two-sided α = 0.05 design has the boundaries of the one-sided 0.025 design, mirrored. This is
what rpact's ``getDesignGroupSequential(sided = 2)`` does (its two-sided critical values equal the
one-sided ones at alpha/2; see the test that quotes rpact) and gives DESIGN §5's example
boundaries 2.963, 1.969 at information 0.5, 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

SPENDING = ("obrien_fleming", "pocock", "none")
GRID = 401  # Simpson points over a continuation region (odd); 2e-8 from a 2001-point grid
LOWEST = -10.0  # the one-sided continuation region (−∞, c) is truncated here (Φ(−10) ≈ 8e-24)
_SQRT_2PI = math.sqrt(2 * math.pi)


# Φ and φ as scipy.stats.norm computes them (``cdf`` = ``special.ndtr``, ``sf(x)`` =
# ``ndtr(-x)``, ``ppf`` = ``ndtri``, ``isf(q)`` = ``-ndtri(q)``), without its per-call argument
# checks (most of the boundaries' time on a 401 x 401 grid) and without importing scipy.stats
# (about 1 s of a run's start-up).


def _norm_pdf(x: Any) -> Any:
    """φ(x), as ``stats.norm.pdf`` computes it."""
    return np.exp(-(x**2) / 2.0) / _SQRT_2PI


def spent(kind: str, t: float | NDArray[np.float64], alpha: float) -> Any:
    """Cumulative one-sided alpha spent at information fraction ``t`` (see module docstring).

    ``none`` spends nothing before the final look (t < 1) and all of α at t = 1.
    """
    t = np.asarray(t, dtype=float)
    if kind == "obrien_fleming":
        with np.errstate(divide="ignore"):
            out = 2.0 - 2.0 * special.ndtr(special.ndtri(1 - alpha / 2) / np.sqrt(t))
        return np.where(t > 0, out, 0.0)
    if kind == "pocock":
        return alpha * np.log1p((math.e - 1.0) * t)
    if kind == "none":
        return np.where(t >= 1.0, alpha, 0.0)
    raise ValueError(f"spending must be one of {SPENDING}, got {kind!r}")


def _simpson_weights(n: int, h: float) -> NDArray[np.float64]:
    w = np.ones(n)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return w * h / 3.0


@dataclass(frozen=True)
class _Stage:
    """Sub-density of Z_k on a grid of the continuation region (with Simpson weights)."""

    z: NDArray[np.float64]
    density: NDArray[np.float64]  # g_k(z) at the grid points, already times the weights


def _first_stage(info: float, theta: float, lower: float, upper: float) -> _Stage:
    z = np.linspace(lower, upper, GRID)
    w = _simpson_weights(GRID, z[1] - z[0])
    return _Stage(z, w * _norm_pdf(z - theta * math.sqrt(info)))


def _exit(
    stage: _Stage, i_prev: float, i_next: float, theta: float, c: float
) -> tuple[float, float]:
    """P(Z_next ≥ c, continued so far) and P(Z_next ≤ −c, continued so far)."""
    delta = i_next - i_prev
    mean = (stage.z * math.sqrt(i_prev) + theta * delta) / math.sqrt(delta)
    scale = math.sqrt(i_next / delta)
    up = float(stage.density @ special.ndtr(mean - c * scale))
    down = float(stage.density @ special.ndtr(-c * scale - mean))
    return up, down


def _next_stage(
    stage: _Stage, i_prev: float, i_next: float, theta: float, lower: float, upper: float
) -> _Stage:
    delta = i_next - i_prev
    z = np.linspace(lower, upper, GRID)
    w = _simpson_weights(GRID, z[1] - z[0])
    x = z[:, None] * math.sqrt(i_next) - stage.z[None, :] * math.sqrt(i_prev) - theta * delta
    kernel = _norm_pdf(x / math.sqrt(delta)) * math.sqrt(i_next / delta)
    return _Stage(z, w * (kernel @ stage.density))


def _region(c: float, two_sided: bool) -> tuple[float, float]:
    upper = min(c, 12.0)
    return (-upper if two_sided else LOWEST), upper


@dataclass(frozen=True)
class Boundaries:
    """Efficacy boundaries of a group-sequential design.

    Attributes
    ----------
    information : list of float
        Information fractions of the looks (the last is 1).
    efficacy_z : list of float
        Critical values on the Z scale (reject at look k when Z_k ≥ c_k, or |Z_k| ≥ c_k for a
        two-sided design); ``inf`` where nothing is spent.
    nominal_alpha : list of float
        The nominal p-value threshold of each look: 1 − Φ(c_k) one-sided, 2(1 − Φ(c_k))
        two-sided — any test's p-value at a look is compared with it.
    cumulative_alpha : list of float
        Alpha spent up to each look (both sides).
    """

    information: list[float]
    efficacy_z: list[float]
    nominal_alpha: list[float]
    cumulative_alpha: list[float]
    alpha: float
    sided: str
    spending: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "information": list(self.information),
            "efficacy_z": [round(c, 4) if math.isfinite(c) else None for c in self.efficacy_z],
            "nominal_alpha": [round(a, 6) for a in self.nominal_alpha],
            "cumulative_alpha": [round(a, 6) for a in self.cumulative_alpha],
            "spending": self.spending,
            "sided": self.sided,
        }


def boundaries(
    information: Sequence[float], alpha: float, sided: str = "one", spending: str = "obrien_fleming"
) -> Boundaries:
    """Lan–DeMets efficacy boundaries at the given information fractions.

    Parameters
    ----------
    information : sequence of float
        Increasing fractions in (0, 1]; the last should be 1.
    alpha : float
        Overall type I error: one-sided level for ``sided="one"``; total of both sides for
        ``sided="two"`` (α/2 per side).
    sided : {"one", "two"}
    spending : {"obrien_fleming", "pocock", "none"}

    Examples
    --------
    >>> b = boundaries([0.5, 1.0], alpha=0.025, sided="one")
    >>> [round(c, 3) for c in b.efficacy_z]
    [2.963, 1.969]
    """
    return _boundaries(tuple(float(t) for t in information), float(alpha), sided, spending)


@lru_cache(maxsize=256)
def _boundaries(
    information: tuple[float, ...], alpha: float, sided: str, spending: str
) -> Boundaries:
    two = sided == "two"
    side_alpha = alpha / 2 if two else alpha
    cumulative = [
        float(a) for a in np.atleast_1d(spent(spending, np.asarray(information), side_alpha))
    ]
    cs: list[float] = []
    stage: _Stage | None = None
    prev_info, prev_spent = 0.0, 0.0
    for k, info in enumerate(information):
        target = cumulative[k] - prev_spent  # one side
        if target <= 1e-15:
            c = math.inf
        elif stage is None:
            c = float(-special.ndtri(target))
        else:
            s = stage

            def excess(
                c: float,
                s: _Stage = s,
                i_prev: float = prev_info,
                i: float = info,
                a: float = target,
            ) -> float:
                up, _ = _exit(s, i_prev, i, 0.0, c)
                return up - a

            c = float(optimize.brentq(excess, 0.0, 40.0, xtol=1e-10))
        cs.append(c)
        lower, upper = _region(c, two)
        stage = (
            _first_stage(info, 0.0, lower, upper)
            if stage is None
            else _next_stage(stage, prev_info, info, 0.0, lower, upper)
        )
        prev_info, prev_spent = info, cumulative[k]
    nominal = [float(special.ndtr(-c)) * (2 if two else 1) for c in cs]
    return Boundaries(
        information=list(information),
        efficacy_z=cs,
        nominal_alpha=nominal,
        cumulative_alpha=[a * (2 if two else 1) for a in cumulative],
        alpha=alpha,
        sided=sided,
        spending=spending,
    )


def crossing_probabilities(
    b: Boundaries, drift: float, information: Sequence[float] | None = None
) -> tuple[list[float], list[float]]:
    """Probabilities of first crossing the upper and lower boundary at each look.

    ``drift`` is θ√I_max: under the alternative, Z_k ~ N(drift·√t_k, 1). With ``drift = 0``
    the upper (+ lower, two-sided) probabilities sum to the alpha spent.
    """
    info = list(information or b.information)
    two = b.sided == "two"
    ups, downs = [], []
    stage: _Stage | None = None
    prev = 0.0
    for k, t in enumerate(info):
        c = b.efficacy_z[k]
        if stage is None:
            mean = drift * math.sqrt(t)
            up = float(special.ndtr(mean - c))
            down = float(special.ndtr(-c - mean)) if two else 0.0
        else:
            up, down = _exit(stage, prev, t, drift, c)
            down = down if two else 0.0
        ups.append(up)
        downs.append(down)
        lower, upper = _region(c, two)
        stage = (
            _first_stage(t, drift, lower, upper)
            if stage is None
            else _next_stage(stage, prev, t, drift, lower, upper)
        )
        prev = t
    return ups, downs


def classical_constant(kind: str, looks: int, alpha: float, sided: str = "two") -> float:
    """The constant of the classical Pocock or O'Brien–Fleming design with equally spaced looks.

    Pocock: c_k = C for all k; O'Brien–Fleming: c_k = C·√(K/k). C solves "total crossing
    probability under θ = 0 equals α" (Jennison & Turnbull 2000, Tables 2.1 and 2.3).
    """
    info = [(k + 1) / looks for k in range(looks)]

    def size(constant: float) -> float:
        if kind == "pocock":
            cs = [constant] * looks
        else:
            cs = [constant * math.sqrt(looks / (k + 1)) for k in range(looks)]
        b = Boundaries(info, cs, [], [], alpha, sided, kind)
        up, down = crossing_probabilities(b, 0.0)
        return sum(up) + sum(down) - alpha

    return float(optimize.brentq(size, 1.0, 6.0, xtol=1e-10))


def conditional_power(z: Any, t: float, c_final: float) -> Any:
    """Conditional power under the current trend (Jennison & Turnbull 2000, §10.2).

    With interim statistic z at information fraction t, the trend estimate θ̂√I_max = z/√t
    gives CP = 1 − Φ((c_K − z/√t)/√(1 − t)).
    """
    z = np.asarray(z, dtype=float)
    if t >= 1.0:
        return (z >= c_final).astype(float)
    return special.ndtr(-((c_final - z / math.sqrt(t)) / math.sqrt(1.0 - t)))
