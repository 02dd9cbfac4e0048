"""The exact engine: closed-form endpoint laws and enumeration of the rejection region.

For a fixed design the number of responders per arm is Binomial (DESIGN §2, closed forms in
:mod:`simtrial.model.response`), so power is the exact sum

    power = Σ_{x_t, x_c} R(x_t, x_c) · b(x_t; n_t, p_t) · b(x_c; n_c, p_c)

over the test's rejection region R (:func:`simtrial.analysis.frequentist.rejection_table`); it has
no Monte Carlo error. Under ``missing: exclude`` the numbers analysed, m ~ Binomial(n, P(in study)),
are summed over too (pairs of m with probability below 1e-12 are dropped; the dropped mass is
reported as ``truncated_mass``). Assurance averages exact power over ``simulations`` joint
parameter draws, so its SE is sd(power_i)/sqrt(N).

Only fixed designs without re-dosing and without operations: the engine refuses the rest.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from simtrial.engines.base import (
    ASSURANCE,
    STOP_REASONS,
    Progress,
    StreamKeyed,
    drawn_values,
    expected_duration,
    has_uncertainty,
    null_values,
    point_values,
    refuse,
    stream,
)
from simtrial.engines.design import Design
from simtrial.engines.results import PointResult
from simtrial.model.response import ArmValues, endpoint_law, expected_burden
from simtrial.scenario.schema import Scenario

TAIL = 1e-12


def _pmf(n: int, p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Binomial pmf over 0..n for each p: shape p.shape + (n + 1,)."""
    k = np.arange(n + 1)
    return stats.binom.pmf(k, n, np.asarray(p, dtype=float)[..., None])


def _region(design: Design, mt: int, mc: int, favourable: bool) -> NDArray[np.float64]:
    """Rejection region as floats; with ``favourable`` only rejections in the treatment's
    favour (for a two-sided test, where p̂_t > p̂_c; one-sided tests and Bayesian rules only
    reject in that direction)."""
    table = design.final_table(mt, mc).astype(float)
    if favourable and design.two_way:
        xt, xc = np.arange(mt + 1)[:, None], np.arange(mc + 1)[None, :]
        table = table * (xt * mc > xc * mt)
    return table


def exact_power(
    scenario: Scenario,
    n_per_arm: dict[str, int],
    values: dict[str, ArmValues],
    favourable: bool = False,
) -> tuple[NDArray[np.float64], float]:
    """Exact probability of rejecting, for scalar or per-draw arrays of parameter values.

    With ``favourable`` only rejections with the treatment doing better count. Returns the power
    (shape of the parameter arrays) and the probability mass left out by the truncation of the
    numbers analysed under ``exclude`` (0 under NRI).
    """
    a = scenario.analysis
    design = Design(scenario)
    t, c = a.treatments[0], a.control
    law_t = endpoint_law(values[t], scenario.endpoint)
    law_c = endpoint_law(values[c], scenario.endpoint)
    n_t, n_c = n_per_arm[t], n_per_arm[c]
    if scenario.endpoint.missing == "non_responder":
        table = _region(design, n_t, n_c, favourable)
        pt, pc = _pmf(n_t, law_t.nri()), _pmf(n_c, law_c.nri())
        return np.einsum("...i,ij,...j->...", pt, table, pc), 0.0
    # exclude: sum over the numbers analysed (m_t, m_c)
    mt_pmf = stats.binom.pmf(np.arange(n_t + 1), n_t, law_t.in_study)
    mc_pmf = stats.binom.pmf(np.arange(n_c + 1), n_c, law_c.in_study)
    shape = np.broadcast(law_t.success, law_c.success).shape
    power = np.zeros(shape)
    kept = 0.0
    for mt in np.flatnonzero(mt_pmf > TAIL):
        for mc in np.flatnonzero(mc_pmf > TAIL):
            weight = mt_pmf[mt] * mc_pmf[mc]
            if weight < TAIL:
                continue
            kept += weight
            table = _region(design, int(mt), int(mc), favourable)
            pt, pc = _pmf(int(mt), law_t.success), _pmf(int(mc), law_c.success)
            power = power + weight * np.einsum("...i,ij,...j->...", pt, table, pc)
    return power, max(0.0, 1.0 - kept)


def _endpoint_probability(scenario: Scenario, values: dict[str, ArmValues]) -> dict[str, Any]:
    """Closed-form P(endpoint) per arm (among randomised under NRI, among analysed under
    exclude), scalar or per parameter draw."""
    nri = scenario.endpoint.missing == "non_responder"
    out = {}
    for arm, v in values.items():
        law = endpoint_law(v, scenario.endpoint)
        out[arm] = law.nri() if nri else law.success
    return {a: p if np.ndim(p) else float(p) for a, p in out.items()}


class ExactEngine(StreamKeyed):
    """Exact power and type I error by enumeration (no Monte Carlo error)."""

    name: ClassVar[str] = "exact"

    def check(self, scenario: Scenario) -> None:
        extra = []
        for arm, spec in scenario.arms.items():
            if spec.schedule is not None and spec.schedule.redose_on_loss is not None:
                extra.append(
                    f"re-dosing on loss (arms.{arm}.schedule.redose_on_loss) has no "
                    "closed form; use --engine vectorized"
                )
        refuse(scenario, self.name, extra)

    def _assurance(
        self, scenario: Scenario, variant: str, n_total: int, simulations: int, seed: int
    ) -> tuple[float, float, dict[str, ArmValues]]:
        """Assurance (mean exact power over ``simulations`` joint draws), its SE
        sd(power_i)/sqrt(N), and the draws."""
        rng = stream(seed, variant, self.point_key(n_total), ASSURANCE, 0)
        drawn = drawn_values(scenario, simulations, rng)
        draws, _ = exact_power(scenario, scenario.n_per_arm(n_total), drawn, favourable=True)
        se = float(draws.std(ddof=1) / np.sqrt(simulations)) if simulations > 1 else 0.0
        return float(draws.mean()), se, drawn

    def evaluate_target(
        self,
        scenario: Scenario,
        variant: str,
        n_total: int,
        simulations: int,
        seed: int,
        target: str,
        progress: Progress | None = None,
    ) -> tuple[float, float]:
        """Exact power in the treatment's favour alone, or the assurance alone (as
        :meth:`evaluate` computes them; no type I error, no power in either direction)."""
        self.check(scenario)
        if target == "assurance" and has_uncertainty(scenario):
            value, se, _ = self._assurance(scenario, variant, n_total, simulations, seed)
        else:
            values = point_values(scenario)
            power, _ = exact_power(scenario, scenario.n_per_arm(n_total), values, favourable=True)
            value, se = float(power), 0.0
        if progress is not None:
            progress(simulations)
        return value, se

    def evaluate(
        self,
        scenario: Scenario,
        variant: str,
        n_total: int,
        simulations: int,
        seed: int,
        progress: Progress | None = None,
    ) -> PointResult:
        self.check(scenario)
        n_per_arm = scenario.n_per_arm(n_total)
        values = point_values(scenario)
        # success = a rejection in the treatment's favour; the type I error counts every one
        power, truncated = exact_power(scenario, n_per_arm, values, favourable=True)
        any_direction, _ = exact_power(scenario, n_per_arm, values)
        type1, _ = exact_power(scenario, n_per_arm, null_values(values, scenario))
        if has_uncertainty(scenario):
            assurance, assurance_se, drawn = self._assurance(
                scenario, variant, n_total, simulations, seed
            )
        else:
            assurance, assurance_se = float(power), 0.0
        if progress is not None:
            progress(simulations)
        end = scenario.endpoint.end_week
        burden = {arm: expected_burden(v, end) for arm, v in values.items()}
        scheduled = [a for a in scenario.arms if "infusions_per_patient" in burden[a]]
        probability = _endpoint_probability(scenario, values)
        prior = probability
        if has_uncertainty(scenario):
            prior = {
                a: float(np.mean(p)) for a, p in _endpoint_probability(scenario, drawn).items()
            }
        extra: dict[str, Any] = {
            "power_any_direction": float(any_direction),
            "power_any_direction_se": 0.0,
            "endpoint_probability_prior": prior,
        }
        if truncated:
            extra["truncated_mass"] = truncated
        return PointResult(
            n_total=n_total,
            n_per_arm=n_per_arm,
            power=float(power),
            power_se=0.0,
            type1_error=float(type1),
            type1_error_se=0.0,
            assurance=assurance,
            assurance_se=assurance_se,
            endpoint_probability=probability,
            infusions_per_patient={a: float(burden[a]["infusions_per_patient"]) for a in scheduled},
            adverse_events_per_patient={
                a: float(burden[a]["adverse_events_per_patient"]) for a in scheduled
            },
            serious_adverse_events_per_patient={
                a: float(burden[a]["serious_adverse_events_per_patient"]) for a in scheduled
            },
            dropout_fraction={a: float(b["dropout_fraction"]) for a, b in burden.items()},
            stopped_early=dict.fromkeys(STOP_REASONS, 0.0),
            expected_n=float(n_total),
            expected_duration_weeks=expected_duration(scenario, n_total),
            simulations=simulations,
            extra=extra,
        )
