"""Multi-arm multi-stage (MAMS) designs with treatment selection and closed testing (NumPy/SciPy).

Several treatment arms share one control; at an interim look the arms to continue are selected
and the others stop recruiting (seamless phase II/III). The family-wise error rate is controlled
in the strong sense by the closed testing principle applied to adaptive combination tests
(Bauer & Kieser 1999, *Stat Med* 18:1833; Posch et al. 2005, *Stat Med* 24:3697; Wassmer &
Brannath 2016, *Group Sequential and Confirmatory Adaptive Designs in Clinical Trials*, ch. 11).
This module follows rpact's ``getSimulationMultiArmRates`` (``f_simulation_multiarm_rates.R``
and ``f_simulation_multiarm.R``), one-sided, larger rates better:

1. **Stage-wise statistics.** At stage k, arm i (active) is compared with the control on the
   patients of that stage only, with the pooled-variance normal approximation

       z_ik = (p̂_ik − p̂_0k) / sqrt(p̄(1 − p̄)(1/n_ik + 1/n_0k)),  p̄ = (x_ik + x_0k)/(n_ik + n_0k),

   z = 0 when p̂_ik = p̂_0k (rpact's convention), and p_ik = 1 − Φ(z_ik).
2. **Intersection tests.** For every non-empty subset S of arms, the stage-k p-value of
   H_S = ∩_{i∈S} H_i uses the arms of S still active at stage k (m of them):
   Bonferroni ``min(1, m·min p)``; Sidak ``1 − (1 − min p)^m``; Simes ``min_j m·p_(j)/j``;
   Dunnett ``1 − P(max_i Z_i ≤ max_i z_ik)`` for Z multivariate normal with
   corr(Z_i, Z_j) = √(λ_i λ_j), λ_i = r_i/(1 + r_i) and r_i the planned allocation ratio of
   arm i to the control (the many-to-one correlation; one-factor integral below); Hierarchical
   the p-value of the first arm of S in the stated order (1 if that arm is no longer active).
3. **Combination over stages.** Inverse normal: Z_S,k = Σ_{l≤k} w_l Φ⁻¹(1 − p_S,l) /
   √(Σ_{l≤k} w_l²) with w_l = √(t_l − t_{l−1}) from the planned information rates (rpact
   ``.getWeightsInverseNormal``); H_S is rejected at stage k when Z_S,k ≥ c_k, the group-
   sequential boundary (:mod:`~simtrial.analysis.group_sequential`, as rpact
   ``getDesignInverseNormal``). Rejections of intersections persist over stages.
4. **Closed test.** H_i is rejected at stage k when every H_S with i ∈ S has been rejected at
   some stage ≤ k; an arm counts as rejected (in the treatment's favour: the test is one-sided)
   only while it is active. As in rpact, at the last stage the intersections are only examined
   when the global intersection is rejected at that stage.
5. **Selection** after stage ``at_look`` among the active arms, on the cumulative rate
   difference (``estimate``) or rpact's cumulative statistic (``test_statistic``), each with a
   uniform jitter of ±1e−5 to break ties at random (rpact): ``best`` the largest; ``r_best``
   the r largest; ``epsilon`` every arm within ε of the largest; ``all`` every arm;
   ``threshold`` every arm. Every rule then drops arms whose measure is ≤ ``threshold``
   (default −∞).
6. **Stopping.** After stage k < K the trial stops for success when the success criterion holds
   (``at_least_one``: some H_i rejected; ``all``: every active arm's H_i rejected), and for
   futility when no arm is selected to continue, or when every active arm is futile: arm i is
   futile when some H_S with i ∈ S has Z_S,k ≤ ``futility_bound``. rpact's inverse-normal
   designs carry futility bounds of −6 (its "no futility" default, kept here): they bind only
   when an intersection's stage-wise p-value is 1 — Bonferroni's ``min(1, m·min p)`` is capped
   at 1 whenever min p ≥ 1/m, e.g. when no arm is better than the control — and then the trial
   stops. ``success`` (the power) is the success criterion at the stage the trial ended.

The Dunnett probability uses the one-factor representation of the many-to-one correlation
(Dunnett 1955, *JASA* 50:1096): Z_i = √λ_i U + √(1 − λ_i) E_i with U, E_i iid N(0, 1), so

    P(max Z_i ≤ z) = ∫ φ(u) Π_i Φ((z − √λ_i u)/√(1 − λ_i)) du,

integrated with Simpson's rule on u ∈ [−9, 9] (rpact calls mvtnorm, a randomised Genz
algorithm; the two agree to ~1e−6, far below Monte Carlo error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

INTERSECTION_TESTS = ("dunnett", "bonferroni", "simes", "sidak", "hierarchical")
RULES = ("best", "r_best", "epsilon", "all", "threshold")
EFFECT_MEASURES = ("estimate", "test_statistic")
SUCCESS = ("at_least_one", "all")

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

_U = np.linspace(-9.0, 9.0, 361)
_W = np.ones(_U.size)
_W[1:-1:2], _W[2:-1:2] = 4.0, 2.0
_W *= (_U[1] - _U[0]) / 3.0 * stats.norm.pdf(_U)


@dataclass(frozen=True)
class Selection:
    """Treatment selection after stage ``at_look`` (1-based; see the module docstring)."""

    rule: str = "best"
    at_look: int = 1
    r: int = 1
    epsilon: float = 0.0
    threshold: float = -np.inf
    effect_measure: str = "estimate"


@dataclass(frozen=True)
class Reestimation:
    """Sample-size re-estimation by conditional power at the selection look (rpact's
    ``conditionalPower``, ``minNumberOfSubjectsPerStage``, ``maxNumberOfSubjectsPerStage``):
    patients per treatment arm in each later stage, between ``min_per_stage`` and
    ``max_per_stage`` (see :func:`reestimated_sizes`)."""

    conditional_power: float
    min_per_stage: int
    max_per_stage: int


@dataclass(frozen=True)
class MamsDesign:
    """A MAMS design: information rates, boundaries, intersection test, selection, success.

    ``critical`` are the one-sided efficacy boundaries c_k on the z scale (``inf`` where no
    alpha is spent); ``allocation`` the planned ratio r_i of each treatment arm to the control
    (used by Dunnett's correlation).
    """

    information: tuple[float, ...]
    critical: tuple[float, ...]
    allocation: tuple[float, ...]
    intersection_test: str = "dunnett"
    selection: Selection = field(default_factory=Selection)
    success: str = "at_least_one"
    futility_bound: float = -6.0
    reestimation: Reestimation | None = None

    def __post_init__(self) -> None:
        if self.intersection_test not in INTERSECTION_TESTS:
            raise ValueError(f"intersection_test must be one of {INTERSECTION_TESTS}")
        if self.selection.rule not in RULES:
            raise ValueError(f"selection rule must be one of {RULES}")
        if self.selection.effect_measure not in EFFECT_MEASURES:
            raise ValueError(f"effect_measure must be one of {EFFECT_MEASURES}")
        if self.success not in SUCCESS:
            raise ValueError(f"success must be one of {SUCCESS}")
        if len(self.critical) != len(self.information):
            raise ValueError("one critical value per stage")

    @property
    def stages(self) -> int:
        return len(self.information)

    @property
    def arms(self) -> int:
        return len(self.allocation)

    @property
    def weights(self) -> Float:
        """Inverse-normal weights w_k = √(t_k − t_{k−1})."""
        t = np.asarray(self.information, dtype=float)
        return np.sqrt(np.diff(np.concatenate([[0.0], t])))


@dataclass
class MamsOutcome:
    """Per-trial results of :func:`closed_test` (arrays over simulated trials).

    ``rejected`` (trials, G): H_i rejected while arm i was active (in the treatment's favour);
    ``active`` (trials, K, G): arm i recruiting at stage k *and* the trial reached stage k;
    ``last_stage`` (trials,): 0-based index of the stage the trial ended at;
    ``success_stop``/``futility_stop`` (trials,): early stop (before the last stage) for the
    success criterion / because no arm was selected; ``success`` (trials,): the success
    criterion at the end; ``n`` (trials, G + 1): patients randomised per arm (control last).
    """

    rejected: Bool
    active: Bool
    last_stage: NDArray[np.int64]
    success_stop: Bool
    futility_stop: Bool
    success: Bool
    n: Float


def subsets(arms: int) -> Bool:
    """All non-empty subsets of the arms as rows of a boolean matrix, the full set first
    (rpact's ``.getIndicesOfClosedHypothesesSystemForSimulation`` order)."""
    rows = [r for r in product((True, False), repeat=arms)][: 2**arms - 1]
    # expand.grid varies the first arm fastest: reverse each row's tuple order accordingly
    return np.array([row[::-1] for row in rows], dtype=bool)


def stage_z(x_t: Any, n_t: Any, x_c: Any, n_c: Any) -> Float:
    """Pooled-variance z of one stage (rpact's rates statistic; 0 when the rates are equal)."""
    x_t, n_t, x_c, n_c = (np.asarray(v, dtype=float) for v in (x_t, n_t, x_c, n_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = x_t / n_t - x_c / n_c
        pooled = (x_t + x_c) / (n_t + n_c)
        z = diff / np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    return np.where((diff == 0) | ~np.isfinite(z), 0.0, z)


def cumulative_z(x_t: Any, n_t: Any, x_c: Any, n_c: Any, ratio: float) -> Float:
    """rpact's cumulative statistic used by ``effectMeasure = "testStatistic"``.

    rpact (``.getSimulatedStageRatesMultiArm``, rpact ≤ 3.x) computes
    (p̂_t − p̂_c) / √(p̄ (1 − p̄) √(1/n_t + 1/n_c)) with p̄ = (r p̂_t + p̂_c)/(r + 1) — the inner
    square root is rpact's; it is reproduced so that selection matches."""
    x_t, n_t, x_c, n_c = (np.asarray(v, dtype=float) for v in (x_t, n_t, x_c, n_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = x_t / n_t - x_c / n_c
        pooled = (ratio * x_t / n_t + x_c / n_c) / (ratio + 1)
        z = diff / np.sqrt(pooled * (1 - pooled) * np.sqrt(1 / n_t + 1 / n_c))
    return np.where((diff == 0) | ~np.isfinite(z), 0.0, z)


def dunnett_p(z_max: Any, avail: Bool, lam: Float) -> Float:
    """1 − P(max_i Z_i ≤ z_max) for the one-factor correlation √(λ_i λ_j) (module docstring).

    ``z_max`` (trials,); ``avail`` (trials, m) which of the m arms enter; ``lam`` (m,) their λ.
    The probability is tabulated once per set of λ on a grid of z (step 0.002 on [−10, 10])
    and interpolated linearly (error < 1e−6)."""
    z = np.asarray(z_max, dtype=float)
    lam = np.asarray(lam, dtype=float)
    code = avail.astype(np.int64) @ (1 << np.arange(avail.shape[1]))
    out = np.ones(z.shape)
    for c in np.unique(code):
        if c == 0:
            continue
        key = tuple(sorted(float(v) for i, v in enumerate(lam) if c >> i & 1))
        rows = code == c
        out[rows] = np.interp(z[rows], _Z_GRID, _dunnett_table(key), left=1.0, right=0.0)
    return np.clip(out, 0.0, 1.0)


_Z_GRID = np.linspace(-10.0, 10.0, 10001)


@lru_cache(maxsize=64)
def _dunnett_table(lam: tuple[float, ...]) -> Float:
    """1 − P(max Z_i ≤ z) on :data:`_Z_GRID` for the given λ (one-factor integral)."""
    prod = np.ones((_Z_GRID.size, _U.size))
    for value in lam:
        prod *= special.ndtr(
            (_Z_GRID[:, None] - np.sqrt(value) * _U[None, :]) / np.sqrt(1.0 - value)
        )
    return np.asarray(1.0 - prod @ _W)


def intersection_p(test: str, p: Float, z: Float, lam: Float, order_first: Float) -> Float:
    """Stage-wise p-value of H_S for each trial (NaN when no arm of S is active).

    ``p``, ``z`` (trials, m): separate p-values and statistics of the arms of S, NaN for arms
    not active; ``lam`` (m,) the Dunnett λ of those arms; ``order_first`` (trials,) the
    p-value of the first arm of S in the hierarchical order (NaN when it is not active)."""
    avail: Bool = np.asarray(~np.isnan(p))
    m = avail.sum(axis=1)
    none = m == 0
    p_min = np.where(none, 1.0, np.min(np.where(avail, p, np.inf), axis=1))
    if test == "bonferroni":
        out = np.minimum(1.0, m * p_min)
    elif test == "sidak":
        out = 1.0 - (1.0 - p_min) ** m
    elif test == "simes":
        ordered = np.sort(np.where(avail, p, np.inf), axis=1)
        j = np.arange(1, p.shape[1] + 1)
        with np.errstate(invalid="ignore"):
            out = np.min(np.where(~none[:, None], m[:, None] * ordered / j, 1.0), axis=1)
    elif test == "dunnett":
        z_max = np.max(np.where(avail, z, -np.inf), axis=1)
        out = dunnett_p(np.where(none, 0.0, z_max), avail, lam)
    elif test == "hierarchical":
        return np.where(np.isnan(order_first), 1.0, order_first)
    else:
        raise ValueError(test)
    return np.where(none, np.nan, out)


def _select(design: MamsDesign, measure: Float, active: Bool, jitter: Float) -> Bool:
    """Arms selected to continue among ``active`` (rpact ``.selectTreatmentArms``)."""
    s = design.selection
    effect = np.where(active, measure + jitter, -np.inf)
    g = effect.shape[1]
    if s.rule in ("all", "threshold"):
        chosen = active.copy()
    elif s.rule == "best":
        chosen = np.zeros_like(active)
        chosen[np.arange(len(effect)), np.argmax(effect, axis=1)] = True
    elif s.rule == "r_best":
        rank = np.argsort(np.argsort(-effect, axis=1), axis=1)
        chosen = rank < min(s.r, g)
    else:  # epsilon
        best = np.max(effect, axis=1, keepdims=True)
        chosen = best - effect <= s.epsilon
    return chosen & active & (effect > s.threshold)


def closed_test(
    design: MamsDesign,
    x: NDArray[np.int64],
    m: NDArray[np.int64],
    planned: NDArray[np.int64],
    jitter: Float,
) -> MamsOutcome:
    """Apply the MAMS design to simulated stage-wise data (vectorized over trials).

    Parameters
    ----------
    design : MamsDesign
        Without ``reestimation`` (stage sizes are the planned ones; see :func:`run_design`).
    x, m : arrays (trials, K, G + 1)
        Responders and patients analysed in each stage (not cumulative) in each arm, control
        last; data of arms after they were dropped are ignored.
    planned : array (K, G + 1)
        Patients randomised per stage and arm (for the sample size).
    jitter : array (trials, G)
        Uniform(−1e−5, 1e−5) draws that break ties at selection (rpact).
    """
    if x.shape[1:] != (design.stages, design.arms + 1):
        raise ValueError("data shape does not match the design")
    if design.reestimation is not None:
        raise ValueError("a design with re-estimation needs run_design (data stage by stage)")
    return run_design(design, lambda k, sizes: (x[:, k], m[:, k]), planned, jitter)


StageData = Callable[[int, NDArray[np.int64]], tuple[NDArray[np.int64], NDArray[np.int64]]]
"""``data(k, sizes)``: responders and patients analysed at stage k (arrays (trials, G + 1)) when
``sizes`` (trials, G + 1) patients are randomised per arm in that stage."""


def run_design(
    design: MamsDesign, data: StageData, planned: NDArray[np.int64], jitter: Float
) -> MamsOutcome:
    """Apply the MAMS design stage by stage, asking ``data`` for each stage's outcomes.

    ``planned`` (K, G + 1) are the planned patients per stage and arm; with
    ``design.reestimation`` the stages after the selection look get the re-estimated sizes
    (:func:`reestimated_sizes`)."""
    trials, g = jitter.shape
    k_max = design.stages
    lam_arm = np.array([r / (1.0 + r) for r in design.allocation])
    sets = subsets(g)
    contains = [np.flatnonzero(sets[:, i]) for i in range(g)]
    w = design.weights

    sizes = np.broadcast_to(planned, (trials, *planned.shape)).astype(np.int64)
    cx = np.zeros((trials, g + 1))
    cm = np.zeros((trials, g + 1))
    adjusted = np.zeros((trials, k_max))  # Σ w_l Φ⁻¹(1 − Bonferroni p_l), for re-estimation

    active = np.zeros((trials, k_max, g), dtype=bool)
    sel = np.ones((trials, g), dtype=bool)
    alive = np.ones(trials, dtype=bool)
    last = np.full(trials, k_max - 1, dtype=np.int64)
    success_stop = np.zeros(trials, dtype=bool)
    futility_stop = np.zeros(trials, dtype=bool)
    success = np.zeros(trials, dtype=bool)
    rej_int = np.zeros((trials, len(sets)), dtype=bool)
    futile_int = np.zeros((trials, len(sets)), dtype=bool)
    comb = np.zeros((trials, len(sets)))  # Σ w_l Φ⁻¹(1 − p_S,l)
    rejected = np.zeros((trials, g), dtype=bool)
    for k in range(k_max):
        active[:, k] = sel & alive[:, None]
        x_k, m_k = data(k, sizes[:, k])
        cx += x_k
        cm += m_k
        z_now = stage_z(x_k[:, :g], m_k[:, :g], x_k[:, g:], m_k[:, g:])
        p_k = np.where(sel, stats.norm.sf(z_now), np.nan)
        z_k = np.where(sel, z_now, np.nan)
        now = np.zeros((trials, len(sets)), dtype=bool)
        norm = np.sqrt(np.sum(w[: k + 1] ** 2))
        for s, members in enumerate(sets):
            idx = np.flatnonzero(members)
            first = p_k[:, idx[0]]
            p_s = intersection_p(
                design.intersection_test, p_k[:, idx], z_k[:, idx], lam_arm[idx], first
            )
            # p = 0 (z beyond ~38) would give +inf, and +inf - inf = nan at a later stage with
            # p = 1: clip to the smallest double's range (isf(1e-300) = 37.0)
            p_safe = np.clip(np.where(np.isnan(p_s), 1.0, p_s), 1e-300, 1.0)
            comb[:, s] += w[k] * stats.norm.isf(p_safe)
            now[:, s] = ~np.isnan(p_s) & (comb[:, s] / norm >= design.critical[k])
            futile_int[:, s] = ~np.isnan(p_s) & (comb[:, s] / norm <= design.futility_bound)
        if k == k_max - 1:  # rpact examines the intersections only if the global one is rejected
            now &= now[:, :1]
        rej_int |= now & alive[:, None]
        hyp = np.column_stack([rej_int[:, c].all(axis=1) for c in contains])
        rejected |= hyp & sel & alive[:, None]
        # rpact's stopping rule looks at the closed test's rejections, active or not; the
        # success (power) counts only arms rejected while active
        if design.success == "all":
            met = np.all(hyp | ~sel, axis=1)
            won = np.all(rejected | ~sel, axis=1)
        else:
            met = hyp.any(axis=1)
            won = rejected.any(axis=1)
        ends = alive & met
        success |= alive & won & (met if k < k_max - 1 else True)
        if k < k_max - 1:
            success_stop |= ends
            last[ends] = k
            alive &= ~ends
            futile = np.column_stack([futile_int[:, c].any(axis=1) for c in contains])
            hopeless = alive & np.all(futile | ~sel, axis=1)
            futility_stop |= hopeless
            last[hopeless] = k
            alive &= ~hopeless
            if design.reestimation is not None:
                m_sel = np.sum(sel, axis=1)
                p_bonf = np.minimum(
                    np.nanmin(np.where(sel, p_k, np.inf), axis=1) * m_sel, 1 - 1e-12
                )
                adjusted[:, k] = w[k] * stats.norm.isf(p_bonf)
            if design.selection.at_look == k + 1:
                with np.errstate(divide="ignore", invalid="ignore"):
                    rates = cx / cm
                    measure = np.nan_to_num(rates[:, :g] - rates[:, g:])
                if design.selection.effect_measure == "test_statistic":
                    measure = cumulative_z(
                        cx[:, :g], cm[:, :g], cx[:, g:], cm[:, g:], design.allocation[0]
                    )
                sel = _select(design, measure, sel, jitter)
                if design.reestimation is not None:
                    sizes = reestimated_sizes(
                        design, k, sizes, sel, np.nan_to_num(rates), adjusted[:, : k + 1].sum(1)
                    )
            none = alive & ~sel.any(axis=1)
            futility_stop |= none
            last[none] = k
            alive &= ~none
    n = np.zeros((trials, g + 1))
    for k in range(k_max):
        n[:, :g] += active[:, k] * sizes[:, k, :g]
        n[:, g] += active[:, k].any(axis=1) * sizes[:, k, g]
    return MamsOutcome(rejected, active, last, success_stop, futility_stop, success, n)


def reestimated_sizes(
    design: MamsDesign,
    k: int,
    sizes: NDArray[np.int64],
    selected: Bool,
    rates: Float,
    combined: Float,
) -> NDArray[np.int64]:
    """Stage sizes after re-estimation at (0-based) stage k (rpact 3.3.4,
    ``.getSimulationRatesMultiArmStageSubjects`` and ``.getSimulatedStageRatesMultiArm``).

    With r the allocation ratio, π₁ the smallest cumulative rate among the selected arms and π₀
    the control's (the conservative choice), π̄ = (rπ₁ + π₀)/(1 + r), the conditional critical
    value of the next stage from the Bonferroni-adjusted stage-wise p-values
    p̃_l = min(m_l · min_i p_il, 1 − 1e−12),

        c̃ = (c_{k+1} √t_{k+1} − Σ_{l≤k} w_l Φ⁻¹(1 − p̃_l)) / √(t_{k+1} − t_k),

    and the patients per treatment arm per later stage

        n = (c̃ √(π̄(1 − π̄)(1 + r)) + Φ⁻¹(CP) √(π₁(1 − π₁) + r π₀(1 − π₀)))² / (π₁ − π₀)²,

    clipped to [min, max] (max when c̃ > 8; the first factor floored at 0 and the denominator
    at 1e−12). Cumulative sizes are ``ceil(r·N₀ + j·n)`` for the j-th later stage (N₀ the
    control patients so far); the control gets ``trunc(size / r)`` per stage."""
    re = design.reestimation
    assert re is not None
    trials, k_max, g1 = sizes.shape
    g = g1 - 1
    r = design.allocation[0]
    t = design.information
    c_next = design.critical[k + 1]
    if c_next >= 6:
        ccv = np.full(trials, np.inf)
    else:
        ccv = (c_next * np.sqrt(t[k + 1]) - combined) / np.sqrt(t[k + 1] - t[k])
    pi1 = np.min(np.where(selected, rates[:, :g], np.inf), axis=1)
    pi1 = np.where(np.isfinite(pi1), pi1, 0.0)
    pi0 = rates[:, g]
    pim = (r * pi1 + pi0) / (1 + r)
    num = np.maximum(
        0.0,
        ccv * np.sqrt(pim * (1 - pim) * (1 + r))
        + stats.norm.ppf(re.conditional_power) * np.sqrt(pi1 * (1 - pi1) + pi0 * (1 - pi0) * r),
    )
    with np.errstate(invalid="ignore", over="ignore"):
        new = num**2 / np.maximum(1e-12, pi1 - pi0) ** 2
    new = np.where(ccv > 8, re.max_per_stage, np.clip(new, re.min_per_stage, re.max_per_stage))
    new = np.where(selected.any(axis=1), new, 0.0)
    out = sizes.copy()
    control_so_far = sizes[:, : k + 1, g].sum(axis=1)
    previous = sizes[:, : k + 1, 0].sum(axis=1).astype(float)  # the planned cumulative size
    for j in range(1, k_max - k):
        cumulative = np.ceil(control_so_far * r + j * new)
        stage = (cumulative - previous).astype(np.int64)
        out[:, k + j, :g] = stage[:, None]
        out[:, k + j, g] = np.trunc(stage / r).astype(np.int64)
        previous = cumulative
    return out


def simulate_rates(
    design: MamsDesign,
    rates: Any,
    control: float,
    planned: NDArray[np.int64],
    trials: int,
    rng: np.random.Generator,
) -> MamsOutcome:
    """Binomial stage counts (rpact's simulation model) put through :func:`closed_test`.

    ``rates`` are the G treatment response probabilities, ``planned`` (K, G + 1) the patients
    per stage and arm (control last)."""
    probs = np.append(np.asarray(rates, dtype=float), control)
    jitter = rng.uniform(-1e-5, 1e-5, size=(trials, design.arms))
    if design.reestimation is None:
        x = rng.binomial(np.broadcast_to(planned, (trials, *planned.shape)), probs)
        m = np.broadcast_to(planned, x.shape).astype(np.int64)
        return closed_test(design, x, m, planned, jitter)

    def data(k: int, sizes: NDArray[np.int64]) -> tuple[Any, Any]:
        return rng.binomial(sizes, probs), sizes

    return run_design(design, data, planned, jitter)


def summarise(out: MamsOutcome) -> dict[str, Any]:
    """Operating characteristics of a set of simulated trials (rpact's names in brackets).

    ``power_per_arm`` [rejectedArmsPerStage summed over stages], ``reject_at_least_one``
    [rejectAtLeastOne], ``success`` (the success criterion), ``selected`` probability that each
    arm is active at each stage [selectedArms], ``stop_success``/``stop_futility`` per interim
    [successPerStage / futilityPerStage], ``expected_n_per_arm`` (control last) and
    ``expected_n`` [expectedNumberOfSubjects]."""
    trials, k_max, g = out.active.shape
    stop_s = [float(np.mean(out.success_stop & (out.last_stage == k))) for k in range(k_max - 1)]
    stop_f = [float(np.mean(out.futility_stop & (out.last_stage == k))) for k in range(k_max - 1)]
    return {
        "power_per_arm": out.rejected.mean(axis=0).tolist(),
        "reject_at_least_one": float(out.rejected.any(axis=1).mean()),
        "success": float(out.success.mean()),
        "selected": out.active.mean(axis=0).tolist(),
        "stop_success": stop_s,
        "stop_futility": stop_f,
        "expected_n_per_arm": out.n.mean(axis=0).tolist(),
        "expected_n": float(out.n.sum(axis=1).mean()),
    }
