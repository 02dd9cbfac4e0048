"""The infusion-response model (DESIGN §2) and its closed forms.

Per patient in an arm with infusion times ``s_1 < s_2 < ...`` (weeks):

- with probability ``c`` (the *ceiling*) the patient is a potential responder;
- at each induction time ``e_k = s_k + onset`` a potential responder who is not responding
  starts responding with probability ``q`` (the *induction* probability);
- a responder loses response at constant hazard ``λ`` per week;
- dropout happens at constant hazard ``δ = −ln(1 − per_year)/52`` per week, independently.

Closed form (no re-dosing). For a potential responder let ``π(t)`` = P(responding at t). Then
``π(0) = 0``; between induction times ``π`` decays as ``π(e_k)·exp(−λ(t − e_k))``; at an induction
time ``π ← π + (1 − π)·q``. An induction at exactly the assessment week counts (``e_k ≤ W``).

- P(responder at W) = ``c·π(W)``, times ``exp(−δW)`` under non-responder imputation (NRI);
- P(durable responder over [W1, W2]) = ``c·π(W1)·exp(−λ(W2 − W1))``, times ``exp(−δW2)``
  under NRI.

With ``missing: exclude`` the patients who dropped out before the end of follow-up are left out;
the number analysed per arm (those in the study at the end of follow-up) is
Binomial(n, exp(−δ·W_end)) and, given it, the responders are Binomial(analysed, c·π(...))
because dropout is independent of response.

All functions take scalars or NumPy arrays for ``q``, ``λ``, ``c`` and broadcast. ``π`` and the
durable factor come from :mod:`simtrial.model.curve`, shared with the fitted priors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from simtrial.model import curve

if TYPE_CHECKING:  # the model reads these objects; it does not depend on the schema
    from simtrial.scenario.schema import Arm, Endpoint, Schedule

FloatArray = NDArray[np.float64]


def response_probability(
    t: float,
    infusion_weeks: Sequence[float],
    induction: ArrayLike,
    loss_per_week: ArrayLike,
    onset_weeks: float = 0.0,
) -> FloatArray:
    """π(t): probability that a potential responder is responding at week ``t``.

    The recursion of DESIGN §2 (``π(0) = 0``; at each induction time ``e_k = s_k + onset ≤ t``,
    ``π ← π + (1 − π)·q``; between them ``π`` decays by ``exp(−λ·Δt)``), computed by the one
    implementation :func:`simtrial.curve.response_probability` with NumPy. The default
    onset, 0 weeks, is the scenario schema's (``response.onset_weeks``).

    Examples
    --------
    One infusion, no loss: π = q.

    >>> float(response_probability(12, [0], 0.6, 0.0))
    0.6
    >>> float(response_probability(12, [0, 4, 8], 0.5, 0.0))  # 1 - 0.5**3
    0.875
    """
    return np.asarray(
        curve.response_probability(
            t,
            infusion_weeks,
            np.asarray(induction, dtype=float),
            np.asarray(loss_per_week, dtype=float),
            onset_weeks=onset_weeks,
        )
    )


@dataclass(frozen=True)
class ArmValues:
    """Numeric parameter values of one arm: scalars, or arrays with one value per trial.

    Built from a scenario :class:`~simtrial.scenario.schema.Arm` by :func:`arm_values` with
    either the parameters' means (power) or one joint draw per trial (assurance).
    """

    dropout_hazard: float
    endpoint_probability: ArrayLike | None = None
    schedule: Schedule | None = None
    induction: ArrayLike = 0.0
    loss_per_week: ArrayLike = 0.0
    ceiling: ArrayLike = 1.0
    onset_weeks: float = 0.0
    per_infusion: ArrayLike = 0.0
    serious_rate_per_year: ArrayLike = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def has_schedule(self) -> bool:
        return self.schedule is not None

    @property
    def redosing(self) -> bool:
        return self.schedule is not None and self.schedule.redose_on_loss is not None


# Arm parameters in the order used to draw them jointly.
ARM_PARAMETERS = (
    ("endpoint_probability",),
    ("response", "induction"),
    ("response", "loss_per_week"),
    ("response", "ceiling"),
    ("adverse_events", "per_infusion"),
    ("adverse_events", "serious_rate_per_year"),
)


def arm_values(arm: Arm, values: Mapping[tuple[str, ...], ArrayLike]) -> ArmValues:
    """Combine an arm's structure with numeric values keyed by parameter location.

    ``values`` maps a location relative to the arm (e.g. ``("response", "induction")``) to a
    scalar or a per-trial array.
    """
    kwargs: dict[str, object] = {"dropout_hazard": arm.dropout_hazard}
    if arm.endpoint_probability is not None:
        kwargs["endpoint_probability"] = values[("endpoint_probability",)]
    if arm.response is not None:
        kwargs["schedule"] = arm.schedule
        kwargs["onset_weeks"] = arm.response.onset_weeks
        for name in ("induction", "loss_per_week", "ceiling"):
            kwargs[name] = values[("response", name)]
    if arm.adverse_events is not None:
        for name in ("per_infusion", "serious_rate_per_year"):
            kwargs[name] = values[("adverse_events", name)]
    return ArmValues(**kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class EndpointLaw:
    """Closed-form law of one arm's endpoint.

    ``success`` is P(success | in the study at the end of follow-up), ``in_study`` is
    P(in the study at the end of follow-up) = exp(−δ·W_end). Under NRI the number of successes
    among ``n`` randomised is Binomial(n, success·in_study); under ``exclude`` it is
    Binomial(m, success) with m ~ Binomial(n, in_study) analysed.
    """

    success: FloatArray
    in_study: float

    def nri(self) -> FloatArray:
        return np.asarray(self.success * self.in_study)


def endpoint_law(values: ArmValues, endpoint: Endpoint) -> EndpointLaw:
    """Closed-form endpoint probabilities of an arm (no re-dosing).

    Raises
    ------
    ValueError
        When the arm re-doses on loss (no closed form) or the endpoint is ``time_to_loss``.
    """
    if values.redosing:
        raise ValueError("re-dosing on loss has no closed form")
    end = endpoint.end_week
    in_study = float(np.exp(-values.dropout_hazard * end))
    if values.endpoint_probability is not None:
        return EndpointLaw(np.asarray(values.endpoint_probability, dtype=float), in_study)
    assert values.schedule is not None
    weeks = values.schedule.infusion_weeks
    c = np.asarray(values.ceiling, dtype=float)
    lam = np.asarray(values.loss_per_week, dtype=float)
    if endpoint.kind == "responder":
        assert endpoint.week is not None
        pi = response_probability(endpoint.week, weeks, values.induction, lam, values.onset_weeks)
        return EndpointLaw(np.asarray(c * pi), in_study)
    if endpoint.kind == "durable_responder":
        assert endpoint.from_week is not None and endpoint.to_week is not None
        pi = response_probability(
            endpoint.from_week, weeks, values.induction, lam, values.onset_weeks
        )
        stay = curve.durable_factor(lam, endpoint.from_week, endpoint.to_week)
        return EndpointLaw(np.asarray(c * pi * stay), in_study)
    raise ValueError(f"no closed form for endpoint kind {endpoint.kind!r}")


def expected_burden(values: ArmValues, end_week: float) -> dict[str, FloatArray]:
    """Closed-form expected infusions, AEs and dropout per randomised patient (no re-dosing).

    - infusions: Σ_k P(in study at s_k) = Σ_{s_k ≤ W} exp(−δ s_k) (an infusion at week 0 is
      always given);
    - infusion-related AEs: ``per_infusion`` × infusions;
    - SAEs: rate/52 × E[min(D, W)] = rate/52 × (1 − exp(−δW))/δ (= rate/52 × W when δ = 0);
    - dropout fraction: 1 − exp(−δW).
    """
    delta = values.dropout_hazard
    time_in_study = end_week if delta == 0 else (1 - np.exp(-delta * end_week)) / delta
    out: dict[str, FloatArray] = {
        "dropout_fraction": np.asarray(1 - np.exp(-delta * end_week)),
    }
    if values.schedule is not None:
        weeks = np.asarray([s for s in values.schedule.infusion_weeks if s <= end_week])
        infusions = np.exp(-delta * weeks).sum()
        out["infusions_per_patient"] = np.asarray(infusions)
        out["adverse_events_per_patient"] = np.asarray(np.asarray(values.per_infusion) * infusions)
        out["serious_adverse_events_per_patient"] = np.asarray(
            np.asarray(values.serious_rate_per_year) / 52.0 * time_in_study
        )
    return out
