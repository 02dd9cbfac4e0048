r"""π(t) of the infusion-response model (DESIGN §2), written once for NumPy and for PyTensor.

For a potential responder of an arm with infusion times ``s_1 < s_2 < ...`` (weeks), ``π(t)`` is
the probability of responding at week ``t`` without re-dosing:

- ``π(0) = 0``;
- at each induction time ``e_k = s_k + onset ≤ t`` (an induction at exactly ``t`` counts):
  ``π ← π + (1 − π)·q``;
- between induction times and after the last one: ``π(t) = π(e_k)·exp(−λ(t − e_k))``.

The closed forms built on it (DESIGN §2): P(responder at W) = ``c·π(W)``; P(durable responder
over [W1, W2]) = ``c·π(W1)·exp(−λ(W2 − W1))`` (:func:`durable_factor`); P(responded at some
time by W) = ``c·(1 − (1 − q)^k)``, ``k`` the inductions by W (:func:`ever_probability`).

One implementation serves the scenario engines (:mod:`simtrial.model`, NumPy, per-trial arrays
of parameters) and the fitted priors (:mod:`simtrial.priors.models` and
:mod:`simtrial.priors.likelihood`, PyTensor graphs and NumPy arrays of posterior draws): the
functions take an :class:`Ops` namespace, :data:`NUMPY` or :func:`pytensor_ops`, and use only
arithmetic operators and ``ops.exp`` on the parameters. The schedule, the onset and the weeks are
fixed data (the loop over induction times is unrolled into the graph).

**Onset has no default here**: ``onset_weeks`` is keyword-only and required, because the two
historical defaults differ (0 weeks in the scenario schema, :class:`simtrial.scenario.Response`;
2 weeks fixed in the ``msc_v1`` fit, :data:`simtrial.priors.models.ONSET_WEEKS`) and DESIGN §2
names ``onset_weeks`` without a default. The ceiling defaults to 1 (DESIGN §2: "default 1").

This module imports nothing from simtrial (NumPy; SciPy and PyTensor lazily).

Examples
--------
No loss: ``π = 1 − (1 − q)^k`` after ``k`` inductions.

>>> float(response_probability(12.0, [0, 4, 8], 0.5, 0.0, onset_weeks=2.0))
0.875
>>> float(response_probability(12.0, [0, 4, 8], 0.5, 0.0, onset_weeks=4.0))  # 4, 8, 12 count
0.875
>>> float(response_probability(12.0, [0, 4, 8], 0.5, 0.0, onset_weeks=4.5))  # 12.5 > 12
0.75
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "NUMPY",
    "Ops",
    "durable_factor",
    "ever_probability",
    "induction_times",
    "pytensor_ops",
    "response_probability",
]


@dataclass(frozen=True)
class Ops:
    """The few array operations of the model and the prior likelihood (NumPy or PyTensor).

    π needs only ``exp``; the others serve :mod:`simtrial.priors.likelihood`.
    """

    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    log1p: Callable[[Any], Any]
    expm1: Callable[[Any], Any]
    clip: Callable[[Any, float, float], Any]
    logsumexp: Callable[[Sequence[Any]], Any]
    """log Σ exp over a list of broadcastable terms (elementwise)."""


def _np_logsumexp(terms: Sequence[Any]) -> Any:
    from scipy import special  # only the prior likelihood needs it

    return special.logsumexp(np.stack(np.broadcast_arrays(*terms)), axis=0)


NUMPY = Ops(np.exp, np.log, np.log1p, np.expm1, np.clip, _np_logsumexp)
"""The :class:`Ops` of NumPy."""


def pytensor_ops() -> Ops:
    """The :class:`Ops` of PyTensor (imported lazily: running a scenario never needs it)."""
    import pytensor.tensor as pt

    def lse(terms: Sequence[Any]) -> Any:
        return pt.logsumexp(pt.stack([pt.as_tensor_variable(t) for t in terms]), axis=0)

    return Ops(pt.exp, pt.log, pt.log1p, pt.expm1, pt.clip, lse)


def induction_times(
    infusion_weeks: Sequence[float], week: float, *, onset_weeks: float
) -> list[float]:
    """Induction times ``e_k = s_k + onset`` that have happened by ``week`` (``e_k <= week``).

    >>> induction_times([0, 1, 2, 3], 4.0, onset_weeks=2.0)
    [2.0, 3.0, 4.0]
    """
    return [s + onset_weeks for s in infusion_weeks if s + onset_weeks <= week]


def response_probability(
    week: float,
    infusion_weeks: Sequence[float],
    induction: Any,
    loss_per_week: Any,
    *,
    onset_weeks: float,
    ceiling: Any = 1.0,
    ops: Ops = NUMPY,
) -> Any:
    """``c·π(week)``: probability of responding at ``week`` (DESIGN §2, no re-dosing).

    Parameters
    ----------
    week : float
        Assessment week ``W`` (``t``).
    infusion_weeks : sequence of float
        The schedule ``s_1 < s_2 < ...`` (increasing; fixed data).
    induction, loss_per_week : array-like or tensor
        ``q`` and ``λ`` (any shapes that broadcast: per-trial arrays, posterior draws, PyTensor
        scalars). ``λ = 0`` means no loss.
    onset_weeks : float
        Weeks from an infusion to its induction; required (see the module docstring).
    ceiling : array-like or tensor
        ``c``, the share of potential responders; 1 gives ``π`` itself.
    ops : Ops
        :data:`NUMPY` or :func:`pytensor_ops`.

    Returns
    -------
    ``c·π(W)``, broadcast over the parameters (a NumPy value or a PyTensor expression).

    Examples
    --------
    One infusion: ``q·exp(−λ(t − e))``.

    >>> float(response_probability(12.0, [0], 0.6, 0.0, onset_weeks=0.0))
    0.6
    """
    q, lam = induction, loss_per_week
    pi: Any = 0.0 * q * lam
    last = 0.0
    for e in induction_times(infusion_weeks, week, onset_weeks=onset_weeks):
        if e < last:
            raise ValueError(f"infusion weeks must increase, got {list(infusion_weeks)}")
        pi = pi * ops.exp(-lam * (e - last))
        pi = pi + (1.0 - pi) * q
        last = e
    return ceiling * pi * ops.exp(-lam * (week - last))


def durable_factor(loss_per_week: Any, from_week: float, to_week: float, ops: Ops = NUMPY) -> Any:
    """P(a responder at ``from_week`` is still responding at ``to_week``) = ``exp(−λ(W2 − W1))``.

    Without re-dosing no induction helps a responder, so the durable-responder probability of
    DESIGN §2 is ``c·π(W1)`` times this factor.
    """
    return ops.exp(-loss_per_week * (to_week - from_week))


def ever_probability(
    induction: Any,
    infusion_weeks: Sequence[float],
    within: float,
    *,
    onset_weeks: float,
    ceiling: Any = 1.0,
) -> Any:
    """P(responded at some time by ``within``) = ``c·(1 − (1 − q)^k)``, ``k`` inductions by then.

    Loss of response does not matter: a potential responder induced once has "ever responded".
    Only arithmetic operators, so it works on NumPy values and PyTensor tensors alike.

    >>> ever_probability(0.5, [0, 4, 8], 10.0, onset_weeks=2.0)
    0.875
    """
    k = len(induction_times(infusion_weeks, within, onset_weeks=onset_weeks))
    return ceiling * (1.0 - (1.0 - induction) ** k)
