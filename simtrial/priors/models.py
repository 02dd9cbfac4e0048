"""PyMC models of the fitted priors: one function per fit, each returning a ``pm.Model``.

========== =============================================================================
fit        variables (the contract of DESIGN §3)
========== =============================================================================
msc        ``induction[indication]``, ``loss_per_week[indication]``, ``induction_new``,
           ``loss_per_week_new``, ``ae_per_infusion``, ``sae_per_year``
as_placebo ``theta[study]``, ``tau``, ``theta_new``
uc_control ``response``
========== =============================================================================

Every model reads its data from the evidence files (:mod:`simtrial.priors.evidence`): the
observations whose ``fit`` is the model's name. This module imports PyMC; reading committed fits
does not (:mod:`simtrial.priors.store`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from simtrial.errors import PriorError
from simtrial.model import curve as response_curve
from simtrial.priors.evidence import INDICATIONS, Evidence, observations_for

__all__ = [
    "CEILING",
    "ONSET_WEEKS",
    "as_placebo_model",
    "induction_times",
    "msc_model",
    "msc_params",
    "msc_v1_model",
    "response_probability",
    "uc_control_model",
]

ONSET_WEEKS = 2.0
"""Weeks from an infusion to the induced response (DESIGN §2 ``onset_weeks``), fixed in ``msc_v1``.

The pilots assess response once, so onset is not identified by the data. Two weeks is the value
of the DESIGN §4 example scenario; a scenario that uses ``msc/induction`` should use the same
onset, otherwise ``q`` means something else (it is stored in the fit's attributes).
"""

CEILING = 1.0
"""Ceiling ``c`` of ``msc_v1`` (share of potential responders), fixed at the DESIGN default of 1.

With one assessment per pilot, ``c`` and ``q`` are not separately identified (``c·π`` is all the
data see); fixing ``c = 1`` lets ``induction`` absorb the primary non-responders.
"""


def induction_times(
    infusion_weeks: Sequence[float], week: float, onset_weeks: float = ONSET_WEEKS
) -> list[float]:
    """Induction times ``e_k = s_k + onset`` that have happened by ``week`` (``e_k <= week``).

    :func:`simtrial.model.curve.induction_times`; the default onset is ``msc_v1``'s
    :data:`ONSET_WEEKS` (not the scenario default of 0).
    """
    return response_curve.induction_times(infusion_weeks, week, onset_weeks=onset_weeks)


def response_probability(
    q: Any,
    lam: Any,
    infusion_weeks: Sequence[float],
    week: float,
    onset_weeks: float = ONSET_WEEKS,
    ceiling: float = CEILING,
) -> Any:
    """P(responding at ``week``) = ``c·π(week)`` of DESIGN §2, as a PyTensor expression.

    :func:`simtrial.model.curve.response_probability` with PyTensor operations; the defaults
    are ``msc_v1``'s fixed :data:`ONSET_WEEKS` and :data:`CEILING` (the scenario default onset
    is 0: :func:`simtrial.model.response.response_probability`).

    Parameters
    ----------
    q, lam : tensor-like
        Induction probability per infusion and loss-of-response hazard per week (any shape;
        broadcast).
    infusion_weeks : sequence of float
        The pilot's schedule ``s_1 < s_2 < ...`` (fixed data, unrolled into the graph).
    week : float
        Assessment week ``W``.
    onset_weeks, ceiling : float
        See :data:`ONSET_WEEKS`, :data:`CEILING`.
    """
    return response_curve.response_probability(
        week,
        infusion_weeks,
        pt.as_tensor_variable(q),
        pt.as_tensor_variable(lam),
        onset_weeks=onset_weeks,
        ceiling=ceiling,
        ops=response_curve.pytensor_ops(),
    )


def msc_v1_model(evidence: Mapping[str, Evidence]) -> pm.Model:
    r"""Version 1 of the hierarchical infusion-response model (fit ``msc_v1``, kept for comparison).

    Superseded by :func:`msc_model` (v2); see there and :mod:`simtrial.planning.prior_compare`
    for why.

    Indication ``j`` (dimension ``indication``, labels :data:`INDICATIONS`) has an induction
    probability per infusion ``q_j`` and a loss-of-response hazard ``λ_j`` per week:

    .. math::

        \operatorname{logit} q_j = \mu_q + \sigma_q z_j, \qquad
        \log \lambda_j = \mu_\lambda + \sigma_\lambda w_j, \qquad z_j, w_j \sim N(0, 1)

    (non-centred random effects). Hyperpriors, weakly informative:

    - ``mu_induction`` :math:`\mu_q \sim N(0, 1.5^2)`: ``q`` between 0.05 and 0.95 a priori;
    - ``sigma_induction`` :math:`\sigma_q \sim \text{HalfNormal}(1)`;
    - ``mu_loss`` :math:`\mu_\lambda \sim N(\log(1/26), 2^2)`: a mean response duration of half
      a year, with a 95% range from about 0.5 week to 25 years;
    - ``sigma_loss`` :math:`\sigma_\lambda \sim \text{HalfNormal}(2)`: durations may differ by
      orders of magnitude between diseases (weeks in AS, years in SLE).

    New indication: ``induction_new`` and ``loss_per_week_new`` draw a fresh ``z``/``w``.

    Likelihood (each term from the observations with ``fit: msc``):

    - ``responders``: :math:`r \sim \text{Binomial}(n, c\,\pi(W; q_j, \lambda_j, s))` with the
      pilot's schedule ``s`` and :func:`response_probability`, onset :data:`ONSET_WEEKS`, ceiling
      :data:`CEILING` (DESIGN §2);
    - ``ever_responders`` (SLE, 37/68 ever in remission): :math:`\text{Binomial}(n, c(1-(1-q)^k))`;
      with the relapses this is the exact factorisation of the remission/relapse counts,
      whereas 28/68 "in remission at 5 years" with ``π(260)`` would count the relapses twice;
    - ``relapses`` (SLE, 9/37): :math:`\text{Binomial}(37, 1 - e^{-\lambda_j T})`, ``T`` the
      assumed time at risk of the evidence file (208 weeks);
    - ``mean_duration`` (AS, 7.1 weeks over 24 responders): the mean of ``m`` Exponential(λ)
      durations is :math:`\text{Gamma}(\text{shape}=m, \text{rate}=m\lambda_j)`;
    - ``infusion_reactions``: :math:`\text{Binomial}(\text{infusions}, p_{ae})`,
      ``ae_per_infusion`` :math:`p_{ae} \sim \text{Beta}(1, 1)`, common to all indications
      (a property of the cell product and the infusion);
    - ``serious_events``: :math:`\text{Poisson}(\rho \cdot \text{patient-years})`,
      ``sae_per_year`` :math:`\rho \sim \text{Gamma}(1, 1)` (exponential, mean one SAE per
      patient-year), common to all indications.

    Source of π: DESIGN §2 (closed form without re-dosing).
    """
    pilots = observations_for(evidence, "msc")
    ind_index = {name: i for i, name in enumerate(INDICATIONS)}

    def arm_weeks(ev: Evidence, obs: Any) -> list[float]:
        weeks = ev.arms[obs.arm].infusion_weeks
        assert weeks is not None  # checked by Evidence validation
        return weeks

    by_kind: dict[str, list[tuple[Evidence, Any]]] = {}
    for ev, obs in pilots:
        by_kind.setdefault(obs.kind, []).append((ev, obs))
    if "responders" not in by_kind:
        raise PriorError("the msc fit found no responder counts (observations with fit: msc)")

    def labels(kind: str) -> list[str]:
        return [f"{ev.indication}:{obs.id}" for ev, obs in by_kind.get(kind, [])]

    coords = {"indication": list(INDICATIONS)}
    for kind, dim in _MSC_DIMS.items():
        if kind in by_kind:
            coords[dim] = labels(kind)

    with pm.Model(coords=coords) as model:
        mu_q = pm.Normal("mu_induction", 0.0, 1.5)
        sigma_q = pm.HalfNormal("sigma_induction", 1.0)
        z_q = pm.Normal("z_induction", 0.0, 1.0, dims="indication")
        q = pm.Deterministic("induction", pm.math.invlogit(mu_q + sigma_q * z_q), dims="indication")
        z_q_new = pm.Normal("z_induction_new", 0.0, 1.0)
        pm.Deterministic("induction_new", pm.math.invlogit(mu_q + sigma_q * z_q_new))

        mu_l = pm.Normal("mu_loss", float(np.log(1 / 26)), 2.0)
        sigma_l = pm.HalfNormal("sigma_loss", 2.0)
        z_l = pm.Normal("z_loss", 0.0, 1.0, dims="indication")
        lam = pm.Deterministic("loss_per_week", pt.exp(mu_l + sigma_l * z_l), dims="indication")
        z_l_new = pm.Normal("z_loss_new", 0.0, 1.0)
        pm.Deterministic("loss_per_week_new", pt.exp(mu_l + sigma_l * z_l_new))

        p_ae = pm.Beta("ae_per_infusion", 1.0, 1.0)
        rho = pm.Gamma("sae_per_year", alpha=1.0, beta=1.0)

        obs = by_kind["responders"]
        p = pt.stack(
            [
                response_probability(
                    q[ind_index[ev.indication]],
                    lam[ind_index[ev.indication]],
                    arm_weeks(ev, o),
                    o.week,
                    onset_weeks=ONSET_WEEKS,
                    ceiling=CEILING,
                )
                for ev, o in obs
            ]
        )
        pm.Binomial(
            "responders",
            n=np.array([o.n for _, o in obs]),
            p=p,
            observed=np.array([o.responders for _, o in obs]),
            dims="pilot",
        )
        if obs := by_kind.get("ever_responded", []):
            p = pt.stack(
                [
                    response_curve.ever_probability(
                        q[ind_index[ev.indication]],
                        arm_weeks(ev, o),
                        o.within_weeks,
                        onset_weeks=ONSET_WEEKS,
                        ceiling=CEILING,
                    )
                    for ev, o in obs
                ]
            )
            pm.Binomial(
                "ever_responders",
                n=np.array([o.n for _, o in obs]),
                p=p,
                observed=np.array([o.responders for _, o in obs]),
                dims="ever_source",
            )
        if obs := by_kind.get("relapses", []):
            idx = np.array([ind_index[ev.indication] for ev, _ in obs])
            t = np.array([o.follow_up_weeks for _, o in obs])
            pm.Binomial(
                "relapses",
                n=np.array([o.responders for _, o in obs]),
                p=1.0 - pt.exp(-lam[idx] * t),
                observed=np.array([o.relapses for _, o in obs]),
                dims="relapse_source",
            )
        if obs := by_kind.get("mean_duration", []):
            idx = np.array([ind_index[ev.indication] for ev, _ in obs])
            m = np.array([float(o.responders) for _, o in obs])
            pm.Gamma(
                "mean_duration",
                alpha=m,
                beta=m * lam[idx],
                observed=np.array([o.mean_weeks for _, o in obs]),
                dims="duration_source",
            )
        if obs := by_kind.get("infusion_reactions", []):
            pm.Binomial(
                "infusion_reactions",
                n=np.array([o.infusions for _, o in obs]),
                p=p_ae,
                observed=np.array([o.events for _, o in obs]),
                dims="ae_source",
            )
        if obs := by_kind.get("serious_events", []):
            pm.Poisson(
                "serious_events",
                mu=rho * np.array([o.patient_years for _, o in obs]),
                observed=np.array([o.events for _, o in obs]),
                dims="sae_source",
            )
    return model


_MSC_DIMS = {
    "responders": "pilot",
    "ever_responded": "ever_source",
    "relapses": "relapse_source",
    "mean_duration": "duration_source",
    "infusion_reactions": "ae_source",
    "serious_events": "sae_source",
}

ENDPOINT_TYPE: dict[str, str] = {
    "ulcerative_colitis": "response",
    "juvenile_idiopathic_arthritis": "response",
    "systemic_lupus_erythematosus": "remission",
    "ankylosing_spondylitis": "response",
    "rheumatoid_arthritis": "response",
}
"""Endpoint type of each indication's loss-of-response data (``msc`` v2).

``response``: loss of a clinical *response* criterion (ASAS20, ACR20, ACR-Ped30 / fewer active
joints, Mayo-score reduction), measured over weeks to a year; ``remission``: relapse from
clinical remission (SLE, SLEDAI/BILAG-based), measured over five years. Hazards of the two are
not exchangeable (v1 pooled them, which inflated the between-indication spread), so each type
has its own mean and indications are pooled only within a type."""

ENDPOINT_TYPES: tuple[str, ...] = ("response", "remission")

SIGMA_LOSS_SCALE = 1.0
"""Half-normal scale of the within-type spread of log λ between indications (``msc`` v2).

On the log-hazard scale a spread σ means indications' mean response durations differ by a factor
e^σ at one SD. Half-normal(1) puts the prior median of σ at 0.67 and 95% below 1.96 (a factor
of 7); Röver et al. (2021, Res Synth Methods 12:448-474) call half-normal scales 0.5 and 1.0 for
log-ratio heterogeneity "reasonable" and "fairly conservative": 1.0 is the conservative (weaker
pooling) end. v1's half-normal(2) across endpoint types let σ reach 4-6, so that λ_new had no
usable mean. The sensitivity table (:mod:`simtrial.planning.prior_compare`) varies it
(0.5, 1, 2)."""

CEILING_PRIOR = (4.0, 1.0)
"""Beta prior of the ceiling ``c`` (``msc`` v2): density 4c³, mode 1 (v1's fixed value), mean
0.8, median 0.84, 95% interval 0.40-0.99. Weakly informative: a share of refractory patients
may never respond (primary non-response), but the pilots, with one assessment each, hardly
separate ``c`` from ``q``, so the prior says it is more likely near 1 than not."""


def msc_model(evidence: Mapping[str, Evidence]) -> pm.Model:
    r"""Hierarchical infusion-response model of MSC across indications, version 2 (fit ``msc``).

    Parameters (dimension ``indication``, labels :data:`INDICATIONS`; non-centred):

    .. math::

        \operatorname{logit} q_j = \mu_q + \sigma_q z_j, \qquad
        \log \lambda_j = \mu_{\lambda, t(j)} + \sigma_\lambda w_j, \qquad z_j, w_j \sim N(0,1),

    ``t(j)`` the endpoint type of :data:`ENDPOINT_TYPE` (``response`` or ``remission``); an
    indication alone in its type (SLE) has :math:`\log\lambda_j = \mu_{\lambda,t(j)}`.

    - ``mu_induction`` :math:`\mu_q \sim N(0, 1.5^2)`, ``sigma_induction`` :math:`\sigma_q \sim
      \text{HalfNormal}(1)` (as v1);
    - ``mu_loss[endpoint_type]`` :math:`\mu_{\lambda,t} \sim N(\log(1/26), 2^2)` each: a mean
      duration of half a year, 95% from 0.5 week to 25 years;
    - ``sigma_loss`` :math:`\sigma_\lambda \sim \text{HalfNormal}(1)` (:data:`SIGMA_LOSS_SCALE`);
    - ``ceiling`` :math:`c \sim \text{Beta}(4, 1)` (:data:`CEILING_PRIOR`), common to all
      indications;
    - onset :math:`d \in \{1, 2, 3, 4\}` weeks, uniform (:data:`~simtrial.priors.likelihood.
      ONSET_GRID`), common to all indications, **marginalised** in the likelihood
      (:math:`\log \sum_d \tfrac14 p(y \mid \theta, d)`, a ``pm.Potential``), because π is a
      step function of the onset; the posterior draws of ``onset_weeks`` are drawn afterwards
      from :math:`p(d \mid \theta, y)` (:func:`add_onset_draws`);
    - ``ae_per_infusion`` ~ Beta(1, 1), ``sae_per_year`` ~ Gamma(1, 1) (as v1).

    ``induction_new`` and ``loss_per_week_new`` are the predictions for a new indication with a
    *response-type* endpoint (fresh ``z``, ``w``); ``loss_per_week_new_remission`` for a
    remission-type endpoint.

    Likelihood: :func:`simtrial.priors.likelihood.pilot_terms` (``version="v2"``): responder
    counts ``Binomial(n, c·π(W))``; SLE ever in remission ``Binomial(68, c·q)``; SLE relapses
    with remission reached uniformly in the first year of a 260-week study
    (:func:`~simtrial.priors.likelihood.relapse_probability`); the AS mean duration of 24
    responses censored at 16 weeks (:func:`~simtrial.priors.likelihood.censored_mean_logpdf`);
    JIA re-dosing and responding at one year
    (:func:`~simtrial.priors.likelihood.redosing_logpmf`); infusion reactions and SAEs.
    Every assumption is in the evidence files.
    """
    from simtrial.priors.likelihood import ONSET_GRID, pilot_terms, pytensor_ops

    terms = pilot_terms(evidence, "v2")
    if not any(t.kind == "responders" for t in terms):
        raise PriorError("the msc fit found no responder counts (observations with fit: msc)")
    ops = pytensor_ops()
    type_index = np.array([ENDPOINT_TYPES.index(ENDPOINT_TYPE[i]) for i in INDICATIONS])
    coords = {
        "indication": list(INDICATIONS),
        "endpoint_type": list(ENDPOINT_TYPES),
        "observation": [t.name for t in terms],
    }
    with pm.Model(coords=coords) as model:
        mu_q = pm.Normal("mu_induction", 0.0, 1.5)
        sigma_q = pm.HalfNormal("sigma_induction", 1.0)
        z_q = pm.Normal("z_induction", 0.0, 1.0, dims="indication")
        q = pm.Deterministic("induction", pm.math.invlogit(mu_q + sigma_q * z_q), dims="indication")
        z_q_new = pm.Normal("z_induction_new", 0.0, 1.0)
        pm.Deterministic("induction_new", pm.math.invlogit(mu_q + sigma_q * z_q_new))

        mu_l = pm.Normal("mu_loss", float(np.log(1 / 26)), 2.0, dims="endpoint_type")
        sigma_l = pm.HalfNormal("sigma_loss", SIGMA_LOSS_SCALE)
        z_l = pm.Normal("z_loss", 0.0, 1.0, dims="indication")
        # an indication alone in its endpoint type (SLE) is the type mean: its deviation from
        # the mean would not be identified, and left free it forms a curved ridge with the
        # mean that the sampler trips on (divergences); its z_loss stays a prior draw
        pooled = np.array([float(np.sum(type_index == t) > 1) for t in type_index])
        lam = pm.Deterministic(
            "loss_per_week", pt.exp(mu_l[type_index] + sigma_l * z_l * pooled), dims="indication"
        )
        z_l_new = pm.Normal("z_loss_new", 0.0, 1.0)
        pm.Deterministic("loss_per_week_new", pt.exp(mu_l[0] + sigma_l * z_l_new))
        pm.Deterministic("loss_per_week_new_remission", pt.exp(mu_l[1] + sigma_l * z_l_new))

        c = pm.Beta("ceiling", *CEILING_PRIOR)
        p_ae = pm.Beta("ae_per_infusion", 1.0, 1.0)
        rho = pm.Gamma("sae_per_year", alpha=1.0, beta=1.0)

        params = {"induction": q, "loss": lam, "ceiling": c, "ae": p_ae, "sae": rho}
        fixed = [t.loglik(params, 0.0, ops) for t in terms if not t.uses_onset]
        by_onset = [
            sum(t.loglik(params, d, ops) for t in terms if t.uses_onset) for d in ONSET_GRID
        ]
        log_prior_onset = -float(np.log(len(ONSET_GRID)))
        pm.Potential("pilots_fixed", pt.sum(pt.stack(fixed)))
        pm.Potential("pilots_onset", ops.logsumexp([log_prior_onset + ll for ll in by_onset]))
    return model


def msc_params(posterior: Any) -> dict[str, np.ndarray]:
    """NumPy parameters of :func:`simtrial.priors.likelihood.pilot_terms` from a posterior.

    ``posterior``: the posterior group (xarray Dataset) of ``msc`` or ``msc_v1``; draws are
    stacked ``(chain·draw, ...)``. ``msc_v1`` has no ``ceiling``: it is 1.
    """

    def flat(name: str) -> np.ndarray:
        v = np.asarray(posterior[name].values, dtype=float)
        return v.reshape((-1,) + v.shape[2:])

    q = flat("induction")
    return {
        "induction": q,
        "loss": flat("loss_per_week"),
        "ceiling": flat("ceiling") if "ceiling" in posterior else np.ones(q.shape[0]),
        "ae": flat("ae_per_infusion"),
        "sae": flat("sae_per_year"),
    }


def as_placebo_model(evidence: Mapping[str, Evidence]) -> pm.Model:
    r"""Meta-analytic-predictive (MAP) prior of placebo ASAS20 response in AS (fit ``as_placebo``).

    The model of RBesT's ``gMAP(cbind(r, n - r) ~ 1 | study, family = binomial,
    tau.dist = "HalfNormal", tau.prior = 1, beta.prior = 2)`` (Neuenschwander et al. 2010;
    Weber et al. 2021, J Stat Softw 100(19)):

    .. math::

        r_j \sim \text{Binomial}(n_j, \theta_j), \quad
        \operatorname{logit}\theta_j = \mu + \tau z_j, \quad z_j \sim N(0, 1), \quad
        \mu \sim N(0, 2^2), \quad \tau \sim \text{HalfNormal}(1).

    ``theta_new`` = :math:`\operatorname{logit}^{-1}(\mu + \tau z_\text{new})` is the MAP prior
    for the placebo response of a new trial.
    """
    obs = [o for _, o in observations_for(evidence, "as_placebo")]
    if not obs:
        raise PriorError("the as_placebo fit found no observations with fit: as_placebo")
    with pm.Model(coords={"study": [o.id for o in obs]}) as model:
        mu = pm.Normal("mu", 0.0, 2.0)
        tau = pm.HalfNormal("tau", 1.0)
        z = pm.Normal("z", 0.0, 1.0, dims="study")
        theta = pm.Deterministic("theta", pm.math.invlogit(mu + tau * z), dims="study")
        z_new = pm.Normal("z_new", 0.0, 1.0)
        pm.Deterministic("theta_new", pm.math.invlogit(mu + tau * z_new))
        pm.Binomial(
            "responders",
            n=np.array([o.n for o in obs]),
            p=theta,
            observed=np.array([o.responders for o in obs]),
            dims="study",
        )
    return model


UC_CONTROL_PRIOR = (1.0, 1.0)
"""Beta prior of the optimised-infliximab response rate (uniform)."""


def uc_control_model(evidence: Mapping[str, Evidence]) -> pm.Model:
    r"""Response to optimised infliximab after loss of response in UC (fit ``uc_control``).

    :math:`r \sim \text{Binomial}(n, p)`, :math:`p \sim \text{Beta}(1, 1)`; with 4/16 (seed 000)
    the posterior is :math:`\text{Beta}(5, 13)` exactly (conjugate; mean 0.278). Sampled with
    NUTS like the other fits so that every fit has the same files; the tests check the draws
    against the exact Beta.
    """
    obs = [o for _, o in observations_for(evidence, "uc_control")]
    if len(obs) != 1:
        raise PriorError(
            "the uc_control fit needs exactly one observation with fit: uc_control, "
            f"found {len(obs)}"
        )
    (o,) = obs
    a, b = UC_CONTROL_PRIOR
    with pm.Model(coords={"source": [o.id]}) as model:
        p = pm.Beta("response", a, b)
        pm.Binomial(
            "responders", n=np.array([o.n]), p=p, observed=np.array([o.responders]), dims="source"
        )
    return model


MODELS = {
    "msc": msc_model,
    "msc_v1": msc_v1_model,
    "as_placebo": as_placebo_model,
    "uc_control": uc_control_model,
}
"""Fit name → model function."""
