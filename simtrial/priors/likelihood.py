r"""Likelihood terms of the ``msc`` fits, written once for NumPy and for PyTensor.

Each function takes an ``ops`` namespace (:data:`NUMPY` or :func:`pytensor_ops`, defined in
:mod:`simtrial.model.curve` and re-exported here) so the same
formula is used by the PyMC model (a ``pm.Potential``) and, with NumPy arrays of posterior
draws, by the pointwise log-likelihood, the posterior predictive checks and the model
comparison (:mod:`simtrial.planning.prior_compare`). Parameters broadcast (scalars in
PyTensor, arrays of draws in NumPy). The tests check every term against an independent
reference (a simulation of patients, a closed form, SciPy's distributions).

Terms (DESIGN §2 model; ``c`` ceiling, ``q`` induction, ``λ`` loss hazard, ``d`` onset weeks):

- :func:`response_probability` ``c·π(W)`` (the one implementation of
  :mod:`simtrial.model.curve`, in this module's argument order); :func:`binomial_logpmf`;
- :func:`censored_mean_logpdf`: the mean of ``m`` exponential durations right-censored at
  ``C`` (the AS pilot);
- :func:`relapse_probability`: relapse within a follow-up, remission reached at an unknown
  time uniform over the first ``A`` weeks (the SLE cohort);
- :func:`redosing_probabilities` and :func:`redosing_logpmf`: a one-year course with re-dosing
  on loss of response, observed as margins (patients by number of infusions, patients
  responding at one year; the JIA pilot).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from scipy import special

from simtrial.errors import PriorError
from simtrial.model import curve as response_curve
from simtrial.model.curve import NUMPY, Ops, pytensor_ops

__all__ = [
    "NUMPY",
    "Ops",
    "binomial_logpmf",
    "censored_mean_coefficients",
    "censored_mean_logpdf",
    "induction_times",
    "pytensor_ops",
    "redosing_logpmf",
    "redosing_probabilities",
    "relapse_probability",
    "response_probability",
]

_EPS = 1e-12


def induction_times(infusion_weeks: Sequence[float], week: float, onset: float) -> list[float]:
    """Induction times ``e_k = s_k + onset`` that have happened by ``week`` (``e_k <= week``).

    :func:`simtrial.model.curve.induction_times` with the onset positional.
    """
    return response_curve.induction_times(infusion_weeks, week, onset_weeks=onset)


def response_probability(
    q: Any,
    lam: Any,
    ceiling: Any,
    infusion_weeks: Sequence[float],
    week: float,
    onset: float,
    ops: Ops = NUMPY,
) -> Any:
    """P(responding at ``week``) = ``c·π(week)`` of DESIGN §2 (no re-dosing).

    :func:`simtrial.model.curve.response_probability` in the argument order of the terms.
    """
    return response_curve.response_probability(
        week, infusion_weeks, q, lam, onset_weeks=onset, ceiling=ceiling, ops=ops
    )


def ever_probability(
    q: Any, ceiling: Any, infusion_weeks: Sequence[float], within: float, onset: float
) -> Any:
    """P(responded at some time by ``within``) = ``c·(1 - (1-q)^k)``, ``k`` inductions by then.

    :func:`simtrial.model.curve.ever_probability` in the argument order of the terms.
    """
    return response_curve.ever_probability(
        q, infusion_weeks, within, onset_weeks=onset, ceiling=ceiling
    )


def binomial_logpmf(k: Any, n: Any, p: Any, ops: Ops = NUMPY) -> Any:
    """log Binomial(k; n, p); ``p`` clipped to [1e-12, 1 - 1e-12] (``k``, ``n`` data)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    const = special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)
    p = ops.clip(p, _EPS, 1.0 - _EPS)
    return const + k * ops.log(p) + (n - k) * ops.log1p(-p)


# -- the AS durations: mean of m exponentials right-censored at C -----------------------------


def _irwin_hall_pdf(n: int, x: Fraction) -> Fraction:
    """Density at ``x`` of the sum of ``n`` independent Uniform(0, 1), in exact rationals.

    ``f_n(x) = 1/(n-1)! Σ_{k=0}^{⌊x⌋} (-1)^k C(n, k) (x - k)^{n-1}`` for 0 < x < n (Irwin 1927,
    Hall 1927). Exact arithmetic avoids the cancellation of the alternating sum.
    """
    if not 0 < x < n:
        return Fraction(0)
    total = Fraction(0)
    for k in range(math.floor(x) + 1):
        total += (-1) ** k * math.comb(n, k) * (x - k) ** (n - 1)
    return total / math.factorial(n - 1)


def censored_mean_coefficients(
    m: int, mean_weeks: float, censor_weeks: float
) -> tuple[np.ndarray, np.ndarray]:
    r"""Powers ``d`` and log-coefficients ``log a_d`` of the censored-mean density.

    ``m`` durations :math:`T_i \sim \text{Exp}(\lambda)` are observed as
    :math:`Y_i = \min(T_i, C)`; only their mean :math:`\bar Y` is reported, not the number
    :math:`D` of losses seen before the cut-off. With :math:`S = m\bar Y`, the individual
    likelihood is :math:`\lambda^D e^{-\lambda S}` (the censored-exponential likelihood); the
    :math:`D` uncensored :math:`Y_i` are uniform on :math:`(0, C)^D` given their sum, so
    marginalising over which and how many durations were censored gives the exact density of
    the reported mean

    .. math::

        p(\bar Y \mid \lambda) = m \sum_{d} \binom{m}{d}\, C^{d-1}
            f_d\!\left(\frac{S - (m-d)C}{C}\right) \lambda^d e^{-\lambda S},

    :math:`f_d` the Irwin–Hall density, over the ``d`` with :math:`0 < S-(m-d)C < dC`. The
    factor ``m`` makes it a density of the mean (comparable with the uncensored
    :math:`\text{Gamma}(m, m\lambda)` density of v1, which is the :math:`C \to \infty` limit).

    Returns
    -------
    (d, log_a) : arrays
        The density is ``Σ exp(log_a + d·log λ) · exp(-λ S)``.
    """
    if m < 1 or mean_weeks <= 0 or censor_weeks <= 0:
        raise PriorError(
            f"censored mean needs m >= 1, mean > 0 and a cut-off > 0; got m={m}, "
            f"mean={mean_weeks}, cut-off={censor_weeks}"
        )
    if mean_weeks > censor_weeks:
        raise PriorError(
            f"a mean duration of {mean_weeks} weeks cannot exceed the cut-off {censor_weeks}"
        )
    c = Fraction(censor_weeks).limit_denominator(10**6)
    s = Fraction(m) * Fraction(mean_weeks).limit_denominator(10**6)
    ds, logs = [], []
    for d in range(1, m + 1):
        u = s - (m - d) * c
        f = _irwin_hall_pdf(d, u / c)
        if f > 0:
            a = m * math.comb(m, d) * c ** (d - 1) * f
            ds.append(d)
            logs.append(math.log(a.numerator) - math.log(a.denominator))
    return np.array(ds, dtype=float), np.array(logs)


def censored_mean_logpdf(
    lam: Any, m: int, mean_weeks: float, censor_weeks: float, ops: Ops = NUMPY
) -> Any:
    """log density of the reported mean of ``m`` durations censored at ``censor_weeks``.

    See :func:`censored_mean_coefficients` for the formula.
    """
    d, log_a = censored_mean_coefficients(m, mean_weeks, censor_weeks)
    log_lam = ops.log(lam)
    terms = [float(la) + float(k) * log_lam for k, la in zip(d, log_a, strict=True)]
    return ops.logsumexp(terms) - lam * (m * mean_weeks)


# -- SLE: relapse after a remission reached at an unknown time --------------------------------


def relapse_probability(
    lam: Any, follow_up_weeks: float, remission_within_weeks: float, ops: Ops = NUMPY
) -> Any:
    r"""P(relapse observed by the end of follow-up ``T``) for a patient who reached remission.

    The time :math:`\tau` remission was reached is not reported; it is taken as uniform on
    :math:`(0, A)`, ``A = remission_within_weeks``. With a constant relapse hazard λ,

    .. math::

        P = 1 - E_\tau\, e^{-\lambda (T - \tau)}
          = 1 - e^{-\lambda T}\, \frac{e^{\lambda A} - 1}{\lambda A}.

    ``A = 0`` gives the fixed-time form ``1 - exp(-λT)`` of v1.
    """
    if remission_within_weeks <= 0:
        return 1.0 - ops.exp(-lam * follow_up_weeks)
    a = remission_within_weeks
    return 1.0 - ops.exp(-lam * follow_up_weeks) * ops.expm1(lam * a) / (lam * a)


# -- JIA: a one-year course with re-dosing on loss of response --------------------------------


def redosing_probabilities(
    q: Any, lam: Any, ceiling: Any, horizon_weeks: float, onset: float, ops: Ops = NUMPY
) -> dict[str, Any]:
    r"""Joint law of (infusions received, responding at the horizon) with re-dosing on loss.

    One infusion at week 0; a potential responder (probability ``c``) responds at ``d`` with
    probability ``q``; a responder who loses response is re-dosed at once (detection and
    scheduling delays ignored), is re-induced ``d`` weeks later with probability ``q``, and may
    be re-dosed a second time after a second loss (at most two re-doses, as in seed 001). A
    patient who never responded is not re-dosed. With :math:`H` the horizon,
    :math:`T_1 = H - d` (time at risk after the first response) and :math:`T_2 = T_1 - d`:

    - ``one_responding`` = :math:`cq\,e^{-\lambda T_1}` (never lost);
    - ``one_not`` = :math:`1 - cq` (never responded);
    - ``two_responding`` = :math:`cq^2 \lambda T_2 e^{-\lambda T_2}` (lost once at
      :math:`t < T_2`, re-induced, not lost again: :math:`\int_0^{T_2}\lambda e^{-\lambda t}
      e^{-\lambda(T_2 - t)}dt`);
    - ``three`` = :math:`cq^2 (1 - e^{-\lambda T_2}(1 + \lambda T_2))` (lost twice: the Erlang-2
      distribution function);
    - ``two_not`` = :math:`cq(1 - e^{-\lambda T_1}) - cq^2(1 - e^{-\lambda T_2})` (lost once and
      either not re-induced or re-dosed too late to respond by the horizon).

    They sum to one.
    """
    t1 = horizon_weeks - onset
    t2 = max(t1 - onset, 0.0)
    cq = ceiling * q
    e1 = ops.exp(-lam * t1)
    e2 = ops.exp(-lam * t2)
    return {
        "one_responding": cq * e1,
        "one_not": 1.0 - cq,
        "two_responding": cq * q * lam * t2 * e2,
        "two_not": cq * (1.0 - e1) - cq * q * (1.0 - e2),
        "three": cq * q * (1.0 - e2 * (1.0 + lam * t2)),
    }


def redosing_logpmf(
    probs: dict[str, Any], n: int, infusions: Sequence[int], responding: int, ops: Ops = NUMPY
) -> Any:
    r"""log P(margins) of :func:`redosing_probabilities` for ``n`` patients.

    Observed: ``infusions = (n_1, n_2, n_3)`` patients with 1, 2 and 3 infusions, and
    ``responding`` patients responding at the horizon; the cross-table is not reported, so the
    multinomial probability is summed over every table with these margins (``x`` = patients
    with one infusion who respond):

    .. math::

        \sum_x \frac{n!}{x!(n_1-x)!(r-x)!(n_2-r+x)!}
            p_{1R}^x p_{1N}^{n_1-x} p_{2R}^{r-x} p_{2N}^{n_2-r+x}.

    Only ``n_3 = 0`` is implemented (the JIA pilot); otherwise :class:`PriorError`.
    """
    n1, n2, n3 = (list(infusions) + [0, 0, 0])[:3]
    if n3 != 0:
        raise PriorError("re-dosing margins with patients given three infusions are not supported")
    if n1 + n2 != n or not 0 <= responding <= n:
        raise PriorError(f"re-dosing margins {infusions} and {responding} do not fit n = {n}")
    logp = {k: ops.log(ops.clip(v, _EPS, 1.0)) for k, v in probs.items()}
    terms = []
    for x in range(max(0, responding - n2), min(n1, responding) + 1):
        counts = (x, n1 - x, responding - x, n2 - responding + x)
        coef = math.lgamma(n + 1) - sum(math.lgamma(k + 1) for k in counts)
        terms.append(
            coef
            + counts[0] * logp["one_responding"]
            + counts[1] * logp["one_not"]
            + counts[2] * logp["two_responding"]
            + counts[3] * logp["two_not"]
        )
    return ops.logsumexp(terms)


# -- the pilots as likelihood terms (msc v2, and msc_v1 for comparison) ------------------------

ONSET_GRID: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0)
"""Onset values (weeks) of the ``msc`` (v2) fit; uniform prior, marginalised in the likelihood.

The pilots assess response on a weekly scale; AS responders at week 4 after a first infusion at
week 0 bound the onset by 4 weeks, and an onset below one week acts like one week on every
pilot schedule (all of them are whole weeks apart)."""


@dataclass(frozen=True)
class Term:
    """One observation of a pilot as a likelihood term.

    ``loglik(params, onset, ops)`` is its log-likelihood (``params``: ``induction`` and ``loss``
    indexed ``[..., indication]``, ``ceiling``, ``ae``, ``sae``); ``predict(params, onset, rng)``
    draws replicate statistics (``{stat: array}``, NumPy, one per draw) whose observed values
    are ``observed``. ``uses_onset`` is False for terms that do not depend on the onset.
    """

    name: str
    study: str
    kind: str
    observed: dict[str, float]
    loglik: Callable[[dict[str, Any], float, Ops], Any]
    predict: Callable[[dict[str, np.ndarray], float, np.random.Generator], dict[str, np.ndarray]]
    uses_onset: bool = True


def _binomial_term(
    name: str, study: str, kind: str, n: int, k: int, prob: Any, uses_onset: bool = True
) -> Term:
    def loglik(p: dict[str, Any], d: float, ops: Ops) -> Any:
        return binomial_logpmf(k, n, prob(p, d, ops), ops)

    def predict(p: dict[str, np.ndarray], d: float, rng: np.random.Generator) -> dict[str, Any]:
        pr = np.clip(prob(p, d, NUMPY), 0.0, 1.0)
        return {"count": rng.binomial(n, pr).astype(float)}

    return Term(name, study, kind, {"count": float(k)}, loglik, predict, uses_onset)


def pilot_terms(evidence: Any, version: str = "v2") -> list[Term]:
    """The ``msc`` observations of the evidence files as :class:`Term` objects.

    ``version="v2"`` is the model of the ``msc`` fit; ``"v1"`` reproduces ``msc_v1`` (ceiling
    1, onset 2 weeks, AS durations uncensored, SLE time at risk 208 weeks, no re-dosing term) so
    both can be scored on the same data (:mod:`simtrial.planning.prior_compare`).
    """
    from simtrial.priors.evidence import INDICATIONS, observations_for

    if version not in ("v1", "v2"):
        raise PriorError(f"unknown msc model version {version!r}; use 'v1' or 'v2'")
    v2 = version == "v2"
    index = {name: i for i, name in enumerate(INDICATIONS)}
    terms: list[Term] = []
    for ev, obs in observations_for(evidence, "msc"):
        j = index[ev.indication]
        name = f"{ev.study}:{obs.id}"
        kind = obs.kind
        weeks = ev.arms[obs.arm].infusion_weeks if obs.arm in ev.arms else None
        if kind == "responders":

            def prob(p: Any, d: float, ops: Ops, j: int = j, w: Any = weeks, o: Any = obs) -> Any:
                c = p["ceiling"] if v2 else 1.0
                return response_probability(
                    p["induction"][..., j], p["loss"][..., j], c, w, o.week, d, ops
                )

            terms.append(_binomial_term(name, ev.study, kind, obs.n, obs.responders, prob))
        elif kind == "ever_responded":

            def prob(p: Any, d: float, ops: Ops, j: int = j, w: Any = weeks, o: Any = obs) -> Any:
                c = p["ceiling"] if v2 else 1.0
                return ever_probability(p["induction"][..., j], c, w, o.within_weeks, d)

            terms.append(_binomial_term(name, ev.study, kind, obs.n, obs.responders, prob))
        elif kind == "relapses":
            if v2 and obs.study_weeks is not None:
                t, a = obs.study_weeks, obs.remission_within_weeks or 0.0
            else:
                t, a = obs.follow_up_weeks, 0.0

            def relapse(p: Any, d: float, ops: Ops, j: int = j, t: float = t, a: float = a) -> Any:
                return relapse_probability(p["loss"][..., j], t, a, ops)

            terms.append(
                _binomial_term(
                    name, ev.study, kind, obs.responders, obs.relapses, relapse, uses_onset=False
                )
            )
        elif kind == "mean_duration":
            terms.append(_duration_term(name, ev.study, j, obs, v2))
        elif kind == "redosing":
            if v2:
                terms.append(_redosing_term(name, ev.study, j, obs))
        elif kind == "infusion_reactions":
            terms.append(
                _binomial_term(
                    name,
                    ev.study,
                    kind,
                    obs.infusions,
                    obs.events,
                    lambda p, d, ops: p["ae"],
                    uses_onset=False,
                )
            )
        elif kind == "serious_events":
            terms.append(_poisson_term(name, ev.study, obs.patient_years, obs.events))
    return terms


def _duration_term(name: str, study: str, j: int, obs: Any, v2: bool) -> Term:
    m, mean = int(obs.responders), float(obs.mean_weeks)
    cut = float(obs.censored_at_weeks) if (v2 and obs.censored_at_weeks) else math.inf

    def loglik(p: dict[str, Any], d: float, ops: Ops) -> Any:
        lam = p["loss"][..., j]
        if math.isinf(cut):  # Gamma(shape m, rate m λ) density of the mean (v1)
            return m * ops.log(m * lam) + (m - 1) * math.log(mean) - m * lam * mean - math.lgamma(m)
        return censored_mean_logpdf(lam, m, mean, cut, ops)

    def predict(p: dict[str, np.ndarray], d: float, rng: np.random.Generator) -> dict[str, Any]:
        lam = np.asarray(p["loss"][..., j])
        t = rng.exponential(1.0, size=lam.shape + (m,)) / lam[..., None]
        return {"mean": np.minimum(t, cut).mean(axis=-1)}

    return Term(name, study, "mean_duration", {"mean": mean}, loglik, predict, uses_onset=False)


def _redosing_term(name: str, study: str, j: int, obs: Any) -> Term:
    n, infusions, r, h = int(obs.n), list(obs.infusions), int(obs.responding), obs.horizon_weeks

    def probs(p: dict[str, Any], d: float, ops: Ops) -> dict[str, Any]:
        return redosing_probabilities(
            p["induction"][..., j], p["loss"][..., j], p["ceiling"], h, d, ops
        )

    def loglik(p: dict[str, Any], d: float, ops: Ops) -> Any:
        return redosing_logpmf(probs(p, d, ops), n, infusions, r, ops)

    def predict(p: dict[str, np.ndarray], d: float, rng: np.random.Generator) -> dict[str, Any]:
        pr = probs(p, d, NUMPY)
        keys = ("one_responding", "one_not", "two_responding", "two_not", "three")
        mat = np.clip(np.stack(np.broadcast_arrays(*(pr[k] for k in keys)), axis=-1), 0, None)
        mat /= mat.sum(axis=-1, keepdims=True)
        counts = rng.multinomial(n, mat)
        return {
            "redosed": (counts[..., 2] + counts[..., 3] + counts[..., 4]).astype(float),
            "responding": (counts[..., 0] + counts[..., 2]).astype(float),
        }

    return Term(
        name,
        study,
        "redosing",
        {"redosed": float(infusions[1] + infusions[2]), "responding": float(r)},
        loglik,
        predict,
    )


def _poisson_term(name: str, study: str, exposure: float, events: int) -> Term:
    def loglik(p: dict[str, Any], d: float, ops: Ops) -> Any:
        mu = p["sae"] * exposure
        return events * ops.log(mu) - mu - math.lgamma(events + 1)

    def predict(p: dict[str, np.ndarray], d: float, rng: np.random.Generator) -> dict[str, Any]:
        return {"count": rng.poisson(np.asarray(p["sae"]) * exposure).astype(float)}

    return Term(
        name, study, "serious_events", {"count": float(events)}, loglik, predict, uses_onset=False
    )


def _subset(params: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: np.asarray(v)[mask] for k, v in params.items()}


def pointwise_loglik(
    terms: Sequence[Term], params: dict[str, np.ndarray], onset: np.ndarray
) -> np.ndarray:
    """Log-likelihood of each term at each draw, shape ``(draws, terms)`` (NumPy).

    ``onset``: the onset of each draw (weeks).
    """
    onset = np.asarray(onset, dtype=float)
    out = np.empty((onset.size, len(terms)))
    for d in np.unique(onset):
        mask = onset == d
        sub = _subset(params, mask)
        for i, term in enumerate(terms):
            out[mask, i] = term.loglik(sub, float(d), NUMPY)
    return out


def onset_log_weights(
    terms: Sequence[Term], params: dict[str, np.ndarray], grid: Sequence[float] = ONSET_GRID
) -> np.ndarray:
    """log p(onset = d | θ, data) for each draw and grid value, shape ``(draws, len(grid))``.

    Uniform prior over ``grid``; only terms that depend on the onset matter.
    """
    n = np.asarray(params["ceiling"]).shape[0]
    ll = np.zeros((n, len(grid)))
    for k, d in enumerate(grid):
        for term in terms:
            if term.uses_onset:
                ll[:, k] += term.loglik(params, float(d), NUMPY)
    return ll - special.logsumexp(ll, axis=1, keepdims=True)


def predictive(
    terms: Sequence[Term],
    params: dict[str, np.ndarray],
    onset: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Posterior predictive replicates ``{"<term>/<stat>": (draws,)}`` (NumPy)."""
    onset = np.asarray(onset, dtype=float)
    out: dict[str, np.ndarray] = {}
    for term in terms:
        for stat in term.observed:
            out[f"{term.name}/{stat}"] = np.empty(onset.size)
    for d in np.unique(onset):
        mask = onset == d
        sub = _subset(params, mask)
        for term in terms:
            for stat, values in term.predict(sub, float(d), rng).items():
                out[f"{term.name}/{stat}"][mask] = values
    return out
