"""The discrete-event engine: SimPy processes in calendar time (DESIGN §2, "des").

Each simulated trial is a fresh :class:`simpy.Environment` and a fresh
:class:`numpy.random.Generator`; a :class:`TrialModel` owns the trial's resources and runs an
accrual process, one process per randomised patient and, with an ``operations`` block, the weekly
release of cell doses and infusion slots. Calendar time is in weeks from the opening of the trial
(sites open and the first doses are released at week 0); the patient journey is in patient time,
weeks from the patient's randomisation ``r``.

The patient journey is the vectorized engine's (:mod:`simtrial.engines.vectorized`), patient by
patient: with no ``operations`` limits the two engines simulate the same model, so the DES passes
the same statistical suite. The two engines also *decide* the same way: each trial's patients
(per arm, in randomisation order: endpoint met, in the study at the endpoint week, SAEs, weeks
in the study, randomisation week) go to the shared decision path of
:mod:`simtrial.engines.decide` and :class:`~simtrial.engines.design.Design` — group-sequential
looks with futility, Bayesian rules, safety looks, harm stops, Holm/Bonferroni — and a look at
information ``t`` analyses the patients whose endpoint is known at its calendar time (those
randomised by the ``round(t·N)``-th arrival). Rules, in patient time:

- **accrual and randomisation**: patients arrive as a Poisson process at
  ``enrolment.rate_per_week`` from week 0 (the first arrival is an exponential gap after the
  opening; durations are measured from the first randomisation). Arms come in order of
  arrival from permuted blocks of the allocation ratio (1:1 → blocks of 2; 2:1 → of 3), which
  gives exactly ``n_per_arm`` of each arm and balanced interim looks. Without an
  ``enrolment`` block every patient is randomised at week 0 (only without ``operations``).
- **sites**: each patient goes to a site drawn uniformly at random — the same as independent
  Poisson accrual at ``rate/sites`` at each site.
- **infusions** at the planned weeks ``s_k ≤ W_end`` while in the study. Each infusion first
  takes a **cell dose** (treatment arms only: the control arm's sham infusions use no cells) from
  one central :class:`simpy.Container`, which holds ``doses_per_week`` at week 0 and receives
  ``doses_per_week`` more at every whole calendar week (unused doses keep); then an **infusion
  slot** at the patient's site, a :class:`simpy.Container` refilled every calendar week to
  ``infusion_slots_per_week`` (slots do not keep: at most ``ceil(slots)`` are ever available, so
  a fractional rate such as 2.5 alternates 2 and 3 when busy). A weekly budget rather than a
  chair held for ``1/slots`` weeks: sites book infusions by the week, and with enough slots no
  infusion waits at all, so ample capacity gives exactly the unlimited results. Waiting is first
  come, first served.
  An infusion is given when it has both; it is **missed** when the patient leaves the study (the
  endpoint visit or dropout) first, and a dose it held is returned to the stock. A missing
  ``doses_per_week`` or ``infusion_slots_per_week`` means no limit.
- **induction** at ``given + onset`` if that is ``≤ W_end``: a potential responder (probability
  ``c``, drawn at randomisation) who is not responding starts responding with probability ``q``;
  the response lasts Exponential(mean ``1/λ``).
- **assessment visits** (re-dosing on loss) at ``j·A ≤ W_end``, each moved by
  Uniform(−w/2, w/2) with ``w = visit_window_weeks`` (a visit moved past ``W_end`` does not
  happen; one moved before week 0 is at week 0). At a visit, a patient whose response ended since
  the last re-dose decision, with fewer than ``max`` extra infusions and none pending, gets an
  extra infusion ``delay_weeks`` later (if that is ``≤ W_end``), which waits for a dose and a slot
  like any infusion. Each loss episode triggers at most one extra infusion.
- **order at equal times**: inductions first, then visits, then the ``durable_responder``
  snapshot at ``from_week``, then the endpoint visit. Inductions are applied lazily, in time
  order, at the next visit, snapshot or endpoint, so the order does not depend on how SimPy orders
  simultaneous events.
- **dropout** at Exponential(hazard δ) patient time; the patient leaves then.
- **time_to_loss** (the log-rank test): per patient, ``loss_time`` from the first response to
  its loss, censored when the patient leaves (dropout, or the end of follow-up ``W_end``), and
  ``loss_event``; NaN for a patient whose first response is not seen before leaving
  (:func:`loss_data`, the vectorized engine's definition). Inductions up to a dropout are then
  applied at the dropout (drawn only for this endpoint: the other endpoints' streams do not
  move). ``success`` is a first response seen, and every randomised patient is analysed.
- **endpoint visit** at ``r + W_end`` exactly: it does **not** move when infusions are delayed,
  so scarce capacity shows up as a lower response. Success as in the other engines (responding at
  ``W``, or responding at ``from_week`` through ``to_week``; in the study at ``W_end``).
- **type I error**: a treatment arm takes the control arm's whole model, operations included (its
  sham infusions take slots but no cell doses), so the null holds exactly; what dose shortages
  cost shows in power.
- **adverse events**: each given infusion causes an AE with probability ``per_infusion``; SAEs
  are a Poisson process at ``serious_rate_per_year/52`` per week while in the study (their count
  and uniform times are drawn when the patient leaves).

Per point, :attr:`~simtrial.engines.results.PointResult.extra` adds per arm (of the arms with a
schedule): ``mean_infusion_delay_weeks`` (over given infusions, due → given),
``infusions_delayed_fraction`` and ``infusions_missed_before_endpoint`` (per randomised patient);
``expected_duration_weeks`` is simulated: first randomisation to the look that ended the trial
— for a trial run to the end, the last patient's endpoint week (the scheduled endpoint visit
closes the trial even when that patient dropped out) — averaged over the power trials.

Random streams
--------------
Trial ``i`` of block ``b`` uses ``SeedSequence`` key ``(variant, n_total, purpose, b, i)`` (the
block's :func:`~simtrial.engines.base.stream` key plus the trial), spawned into children: the
patient journey (arrivals, arms, dropout, response, AEs), operations (sites, visit jitter) and,
only for the event log, the times of SAEs (so a traced trial is the trial the run simulates).
Results do not depend on how trials or blocks are grouped, and adding an ``operations`` block
with ample capacity gives *identical* results: no journey draw moves.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import simpy
from simpy.core import NORMAL

from simtrial.engines.base import (
    ASSURANCE,
    POWER,
    TYPE1,
    ArmTotals,
    BlockEngine,
    BlockStats,
    drawn_values,
    refuse,
    stream,
)
from simtrial.engines.decide import block_stats, purpose_values, purposes
from simtrial.engines.decide import combine as combine_counts
from simtrial.engines.design import ArmData, Design
from simtrial.engines.results import PointResult
from simtrial.model.response import ArmValues
from simtrial.scenario.schema import Scenario

TRIALS_PER_BLOCK = 100
"""Trials per block (one unit of work). Trials are keyed within their block: part of the
algorithm, changing it changes the numbers."""

Task = tuple[int, int, int]

_SAME_TIME = 1e-9
"""Weeks: agenda items closer than this (rounding of calendar sums) need no SimPy wait."""

# Agenda orders at equal patient times (inductions are applied before any of these).
_PLANNED, _EXTRA, _VISIT, _SNAPSHOT, _ENDPOINT, _DROPOUT = range(6)


class CountingEnvironment(simpy.Environment):
    """A :class:`simpy.Environment` that counts the events it schedules (for benchmarks)."""

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self.scheduled = 0

    def schedule(self, event: simpy.Event, priority: Any = NORMAL, delay: float = 0) -> None:
        self.scheduled += 1
        super().schedule(event, priority, delay)


@dataclass(frozen=True)
class ArmParams:
    """Scalar parameter values of one arm in one trial."""

    delta: float
    endpoint_probability: float
    infusion_weeks: tuple[float, ...]
    q: float
    lam: float
    ceiling: float
    onset: float
    per_infusion: float
    sae_per_week: float
    uses_dose: bool
    redose_max: int = 0
    assess_every: float = 0.0
    redose_delay: float = 0.0

    @classmethod
    def of(cls, values: ArmValues, uses_dose: bool) -> ArmParams:
        def num(x: Any) -> float:
            return float(np.asarray(x, dtype=float).reshape(-1)[0])

        schedule = values.schedule
        redose = schedule.redose_on_loss if schedule is not None else None
        return cls(
            delta=values.dropout_hazard,
            endpoint_probability=(
                num(values.endpoint_probability)
                if values.endpoint_probability is not None
                else math.nan
            ),
            infusion_weeks=tuple(schedule.infusion_weeks) if schedule is not None else (),
            q=num(values.induction),
            lam=num(values.loss_per_week),
            ceiling=num(values.ceiling),
            onset=values.onset_weeks,
            per_infusion=num(values.per_infusion),
            sae_per_week=num(values.serious_rate_per_year) / 52.0,
            uses_dose=uses_dose and schedule is not None,
            redose_max=redose.max if redose is not None else 0,
            assess_every=redose.assess_every_weeks if redose is not None else 0.0,
            redose_delay=redose.delay_weeks if redose is not None else 0.0,
        )


@dataclass
class Patient:
    """State of one patient; times are patient weeks (from randomisation) unless noted."""

    index: int
    arm: str
    params: ArmParams
    site: int
    randomised_week: float  # calendar week
    gone: simpy.Event | None = None  # succeeds when the patient leaves (made when needed)
    left: bool = False
    dropout: float = math.inf
    potential: bool = True
    loss: float = -math.inf  # responding at t  <=>  loss > t
    handled: float = -math.inf  # the loss that triggered the last re-dose decision
    extras: int = 0
    pending: bool = False  # an extra infusion decided and its induction not yet applied
    snapshot: float = -math.inf
    first_response: float = math.inf  # time_to_loss: start of the first response ...
    first_loss: float = math.inf  # ... and its end
    inductions: list[tuple[float, int, int, bool]] = field(default_factory=list)
    infusions: int = 0
    adverse_events: int = 0
    serious_adverse_events: int = 0
    delay: float = 0.0
    delayed: int = 0
    missed: int = 0
    success: bool = False
    in_study: bool = False  # in the study at the endpoint week (not dropped out)
    exposure_weeks: float = 0.0  # weeks in the study (to the endpoint week or dropout)


@dataclass(frozen=True)
class TrialOutcome:
    """One simulated trial: per-arm totals (:class:`~simtrial.engines.base.ArmTotals`, the
    type every engine sums), per-arm operations figures (``delay``: weeks of infusion delay,
    ``delayed``: infusions given late, ``missed``: infusions missed, summed over the arm's
    patients), its duration and the number of SimPy events; ``patients`` holds, per arm,
    per-patient arrays in randomisation order (``success``, ``in_study``, ``sae``,
    ``exposure_weeks``, ``randomised_week``: what the shared decision path needs,
    :mod:`simtrial.engines.decide`; for ``time_to_loss`` also ``loss_time`` and ``loss_event``)
    and ``arrivals`` every randomisation week."""

    arms: dict[str, ArmTotals]
    delay: dict[str, float]
    delayed: dict[str, int]
    missed: dict[str, int]
    duration: float
    events: int
    patients: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    arrivals: np.ndarray = field(default_factory=lambda: np.zeros(0))


TraceRow = tuple[int, int | str, str, float, str, str]
"""(trial, patient, arm, calendar week, event, details); patient and arm are "" for the trial."""


class TrialModel:
    """One simulated trial: owns the environment, the random generators and the resources.

    Parameters
    ----------
    env : simpy.Environment
        A fresh environment.
    scenario : Scenario
        The scenario (its ``operations``, ``enrolment`` and ``endpoint`` are used).
    params : dict of str to ArmParams
        Parameter values of each arm in this trial.
    n_per_arm : dict of str to int
        Patients randomised per arm.
    rng, ops_rng : numpy.random.Generator
        The patient-journey and operations streams of this trial.
    trace : list, optional
        When given, one :data:`TraceRow` per event is appended (``trial`` is ``trace_id``).
    """

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        params: dict[str, ArmParams],
        n_per_arm: dict[str, int],
        rng: np.random.Generator,
        ops_rng: np.random.Generator,
        trace: list[TraceRow] | None = None,
        trace_id: int = 0,
        trace_rng: np.random.Generator | None = None,
    ) -> None:
        self.env = env
        self.params = params
        self.rng = rng
        self.ops_rng = ops_rng
        self.trace = trace
        self.trace_id = trace_id
        # SAE times are drawn only for the event log: from their own stream, never the journey's
        self.trace_rng = trace_rng if trace_rng is not None else np.random.default_rng(trace_id)
        self.endpoint = scenario.endpoint
        self.end = scenario.endpoint.end_week
        self.n = sum(n_per_arm.values())
        self.arm_of = randomisation_list(scenario, n_per_arm, rng)
        rate = scenario.enrolment.rate_per_week if scenario.enrolment is not None else None
        self.gaps = rng.exponential(1.0 / rate, size=self.n) if rate else np.zeros(self.n)
        ops = scenario.operations
        sites = ops.sites if ops is not None else 1
        self.site_of = ops_rng.integers(sites, size=self.n) if sites > 1 else np.zeros(self.n, int)
        self.window = ops.visit_window_weeks if ops is not None else 0.0
        self.dose_rate = ops.doses_per_week if ops is not None else None
        self.slot_rate = ops.infusion_slots_per_week if ops is not None else None
        self.doses: simpy.Container | None = None
        self.slots: list[simpy.Container] | None = None
        if self.dose_rate is not None:
            self.doses = simpy.Container(env, init=self.dose_rate)
        if self.slot_rate is not None:
            cap = float(math.ceil(self.slot_rate))
            self.slots = [
                simpy.Container(env, capacity=cap, init=self.slot_rate) for _ in range(sites)
            ]
        self.patients: list[Patient] = []
        self.finished = 0
        self.done = env.event()
        self._seq = 0

    # -- processes ---------------------------------------------------------------------------

    def run(self) -> list[Patient]:
        """Run the trial to the last patient's exit; returns the patients in arrival order."""
        self.env.process(self.accrual())
        if self.doses is not None or self.slots is not None:
            self.env.process(self.weekly_release())
        self.env.run(until=self.done)
        # Settle the instant the last patient left: an infusion still waiting when it left is
        # resumed (and recorded as missed) by events at this same time, after ``done``.
        while self.env.peek() <= self.env.now:
            self.env.step()
        return self.patients

    def accrual(self) -> Generator[simpy.Event, Any, None]:
        """Poisson arrivals; each patient is randomised on arrival and starts a process."""
        for i in range(self.n):
            if self.gaps[i] > 0:
                yield self.env.timeout(float(self.gaps[i]))
            arm = self.arm_of[i]
            p = Patient(i, arm, self.params[arm], int(self.site_of[i]), self.env.now)
            self.patients.append(p)
            self.env.process(self.patient(p))

    def weekly_release(self) -> Generator[simpy.Event, Any, None]:
        """At every whole calendar week: new cell doses, and infusion slots topped up."""
        while True:
            yield self.env.timeout(1.0)
            if self.doses is not None and self.dose_rate is not None:
                self.doses.put(self.dose_rate)
            if self.slots is not None and self.slot_rate is not None:
                for site in self.slots:
                    room = min(self.slot_rate, site.capacity - site.level)
                    if room > 0:
                        site.put(room)

    def patient(self, p: Patient) -> Generator[simpy.Event, Any, None]:
        """One patient's journey: an agenda of patient-time items, walked in order."""
        env, rng, a, end = self.env, self.rng, p.params, self.end
        if a.delta > 0:
            p.dropout = float(rng.exponential(1.0 / a.delta))
        self.note(p, p.randomised_week, "randomised", f"site={p.site}")
        agenda: list[tuple[float, int, int]] = []
        if a.infusion_weeks:
            if a.ceiling < 1:
                p.potential = bool(rng.random() < a.ceiling)
            for k, s in enumerate(a.infusion_weeks):
                if s <= end:
                    agenda.append((s, _PLANNED, k))
            if a.redose_max:
                j = 1
                while j * a.assess_every <= end:
                    v = j * a.assess_every
                    if self.window > 0:
                        v = max(v + self.ops_rng.uniform(-self.window / 2, self.window / 2), 0.0)
                    if v <= end:
                        agenda.append((v, _VISIT, j))
                    j += 1
            if self.endpoint.kind == "durable_responder":
                assert self.endpoint.from_week is not None
                agenda.append((self.endpoint.from_week, _SNAPSHOT, 0))
        agenda.append((p.dropout, _DROPOUT, 0) if p.dropout <= end else (end, _ENDPOINT, 0))
        heapq.heapify(agenda)
        while True:
            t, kind, k = heapq.heappop(agenda)
            wait = p.randomised_week + t - env.now
            if wait > _SAME_TIME:
                yield env.timeout(wait)
            if kind == _PLANNED or kind == _EXTRA:
                self.request(p, t, kind)
            elif kind == _VISIT:
                self.catch_up(p, t)
                lost = (
                    p.loss <= t and p.loss > p.handled and p.extras < a.redose_max and not p.pending
                )
                self.note(p, p.randomised_week + t, "visit", f"responding={int(p.loss > t)}")
                if lost:
                    p.handled = p.loss
                    p.extras += 1
                    when = t + a.redose_delay
                    self.note(p, p.randomised_week + t, "redose_decided", f"due={when:.4f}")
                    if when <= end:
                        heapq.heappush(agenda, (when, _EXTRA, k))
                        p.pending = p.dropout > when and when + a.onset <= end
            elif kind == _SNAPSHOT:
                self.catch_up(p, t)
                p.snapshot = p.loss if p.loss > t else -math.inf
            else:
                break
        self.leave(p, t, kind == _ENDPOINT)

    def request(self, p: Patient, due: float, kind: int) -> None:
        """An infusion falls due: give it now if a dose and a slot are free, else wait."""
        dose = None
        if self.doses is not None and p.params.uses_dose:
            dose = self.doses.get(1)
            if not dose.triggered:
                self.env.process(self.wait_for_infusion(p, due, kind, dose))
                return
        if self.slots is not None:
            slot = self.slots[p.site].get(1)
            if not slot.triggered:
                self.env.process(self.wait_for_infusion(p, due, kind, None, slot, dose is not None))
                return
        self.give(p, due, due, kind)

    def wait_for_infusion(
        self,
        p: Patient,
        due: float,
        kind: int,
        dose: simpy.Event | None,
        slot: simpy.Event | None = None,
        holds_dose: bool = False,
    ) -> Generator[simpy.Event, Any, None]:
        """Wait for a cell dose, then for a slot at the patient's site, or for the patient to
        leave (the infusion is then missed and a dose it held goes back to the stock)."""
        self.note(p, self.env.now, "infusion_waiting", "for=dose" if dose else "for=slot")
        if p.gone is None:
            p.gone = self.env.event()
            if p.left:  # left at the instant the infusion fell due
                p.gone.succeed()
        if dose is not None:
            yield dose | p.gone
            if p.left:
                if dose.triggered:
                    assert self.doses is not None
                    self.doses.put(1)
                else:
                    dose.cancel()  # type: ignore[attr-defined]
                self.miss(p, due, kind)
                return
            holds_dose = True
            if self.slots is not None:
                slot = self.slots[p.site].get(1)
        if slot is not None and not slot.triggered:
            yield slot | p.gone
            if p.left:
                if not slot.triggered:
                    slot.cancel()  # type: ignore[attr-defined]
                if holds_dose and self.doses is not None:
                    self.doses.put(1)
                self.miss(p, due, kind)
                return
        self.give(p, due, self.env.now - p.randomised_week, kind)

    # -- journey steps -----------------------------------------------------------------------

    def give(self, p: Patient, due: float, given: float, kind: int) -> None:
        """The infusion is given at patient week ``given``: AE, and the induction to come."""
        a = p.params
        p.infusions += 1
        delay = given - due
        if delay > 0:
            p.delay += delay
            p.delayed += 1
        what = "planned" if kind == _PLANNED else "extra"
        self.note(p, p.randomised_week + given, "infusion", f"kind={what};delay={delay:.4f}")
        if a.per_infusion > 0 and self.rng.random() < a.per_infusion:
            p.adverse_events += 1
            self.note(p, p.randomised_week + given, "adverse_event", "")
        if given + a.onset <= self.end:
            self._seq += 1
            heapq.heappush(p.inductions, (given + a.onset, kind, self._seq, kind == _EXTRA))
        elif kind == _EXTRA:
            p.pending = False

    def miss(self, p: Patient, due: float, kind: int) -> None:
        p.missed += 1
        if kind == _EXTRA:
            p.pending = False
        what = "planned" if kind == _PLANNED else "extra"
        self.note(p, self.env.now, "infusion_missed", f"kind={what};due={due:.4f}")

    def catch_up(self, p: Patient, t: float) -> None:
        """Apply, in time order, every induction at or before patient week ``t``."""
        a = p.params
        while p.inductions and p.inductions[0][0] <= t:
            e, _, _, extra = heapq.heappop(p.inductions)
            if extra:
                p.pending = False
            if p.potential and p.loss <= e and self.rng.random() < a.q:
                duration = self.rng.standard_exponential() / a.lam if a.lam > 0 else math.inf
                p.loss = e + duration
                if p.first_response == math.inf:
                    p.first_response, p.first_loss = e, p.loss
                self.note(
                    p, p.randomised_week + e, "response", f"until={p.randomised_week + p.loss:.4f}"
                )

    def leave(self, p: Patient, t: float, at_endpoint: bool) -> None:
        """The patient leaves at patient week ``t``: the endpoint visit, or dropout."""
        a = p.params
        rng = self.rng
        if at_endpoint:
            p.in_study = True
            if not a.infusion_weeks:
                p.success = bool(rng.random() < a.endpoint_probability)
            else:
                self.catch_up(p, t)
                if self.endpoint.kind == "durable_responder":
                    assert self.endpoint.to_week is not None
                    p.success = p.snapshot > self.endpoint.to_week
                elif self.endpoint.kind == "time_to_loss":
                    p.success = p.first_response < t  # a first response seen
                else:
                    p.success = p.loss > t
            self.note(p, p.randomised_week + t, "endpoint", f"success={int(p.success)}")
        else:
            if self.endpoint.kind == "time_to_loss":
                self.catch_up(p, t)  # a response before dropout is seen, censored at dropout
                p.success = p.first_response < t
            self.note(p, p.randomised_week + t, "dropout", "")
        p.left = True
        p.exposure_weeks = t
        if p.gone is not None:
            p.gone.succeed()
        if a.sae_per_week > 0:
            k = int(rng.poisson(a.sae_per_week * t))
            p.serious_adverse_events = k
            if self.trace is not None:
                for u in np.sort(self.trace_rng.random(k)):
                    self.note(p, p.randomised_week + u * t, "serious_adverse_event", "")
        self.finished += 1
        if self.finished == self.n:
            self.done.succeed()

    def note(self, p: Patient, time: float, event: str, details: str) -> None:
        if self.trace is not None:
            self.trace.append((self.trace_id, p.index, p.arm, time, event, details))

    # -- results -----------------------------------------------------------------------------

    def outcome(self, events: int) -> TrialOutcome:
        """Per-arm totals of the finished trial (per-patient lists turned into arrays)."""
        ps = self.patients
        arm = np.array([p.arm for p in ps])
        columns = {
            "successes": np.array([p.success for p in ps], dtype=np.int64),
            "in_study": np.array([p.in_study for p in ps], dtype=np.int64),
            "infusions": np.array([p.infusions for p in ps], dtype=np.int64),
            "adverse_events": np.array([p.adverse_events for p in ps], dtype=np.int64),
            "serious_adverse_events": np.array(
                [p.serious_adverse_events for p in ps], dtype=np.int64
            ),
            "delay": np.array([p.delay for p in ps]),
            "delayed": np.array([p.delayed for p in ps], dtype=np.int64),
            "missed": np.array([p.missed for p in ps], dtype=np.int64),
        }
        timing = self.endpoint.kind == "time_to_loss"
        arms: dict[str, ArmTotals] = {}
        delay: dict[str, float] = {}
        delayed: dict[str, int] = {}
        missed: dict[str, int] = {}
        for name in self.params:
            mask = arm == name
            sums = {key: col[mask].sum().item() for key, col in columns.items()}
            size = int(mask.sum())
            in_study = sums.pop("in_study")
            delay[name], delayed[name], missed[name] = (
                sums.pop("delay"),
                sums.pop("delayed"),
                sums.pop("missed"),
            )
            # under non-responder imputation every randomised patient is analysed, and every
            # one enters the log-rank test of a time_to_loss endpoint (as in the other engines)
            everyone = self.endpoint.missing == "non_responder" or timing
            analysed = size if everyone else in_study
            arms[name] = ArmTotals(
                analysed=float(analysed),
                randomised=float(size),
                dropouts=float(size - in_study),
                **{key: float(v) for key, v in sums.items()},
            )
        times = np.array([p.randomised_week for p in ps])
        duration = float(times.max() - times.min() + self.end)
        per_patient = {
            "success": np.array([p.success for p in ps], dtype=bool),
            "in_study": np.array([p.in_study for p in ps], dtype=bool),
            "sae": np.array([p.serious_adverse_events for p in ps], dtype=np.int64),
            "exposure_weeks": np.array([p.exposure_weeks for p in ps]),
            "randomised_week": times,
        }
        if timing:
            per_patient.update(zip(("loss_time", "loss_event"), loss_data(ps), strict=True))
        patients = {
            name: {key: col[arm == name] for key, col in per_patient.items()}
            for name in self.params
        }
        return TrialOutcome(arms, delay, delayed, missed, duration, events, patients, times)


def loss_data(patients: list[Patient]) -> tuple[np.ndarray, np.ndarray]:
    """``loss_time`` and ``loss_event`` of a ``time_to_loss`` endpoint, per patient, in patient
    weeks: from the first response to its loss, censored when the patient leaves (dropout or
    the end of follow-up, ``exposure_weeks``); NaN (and no event) for a patient whose first
    response is not seen before leaving — the vectorized engine's definition."""
    start = np.array([p.first_response for p in patients], dtype=float)
    loss = np.array([p.first_loss for p in patients], dtype=float)
    censor = np.array([p.exposure_weeks for p in patients], dtype=float)
    seen = start < censor
    event = seen & (loss <= censor)
    time = np.where(seen, np.minimum(loss, censor) - start, np.nan)
    return time, event


def randomisation_list(
    scenario: Scenario, n_per_arm: dict[str, int], rng: np.random.Generator
) -> list[str]:
    """Arms in order of arrival: permuted blocks of the allocation ratio (one block holds each
    arm ``allocation`` times, in random order), so every block of arrivals is balanced — the
    convention the shared decision path uses for who is in an interim look
    (:mod:`simtrial.engines.decide`). ``n_per_arm`` not a whole number of blocks (never from a
    validated scenario) falls back to one shuffled list of all labels."""
    block = [arm for arm, spec in scenario.arms.items() for _ in range(spec.allocation)]
    blocks, rest = divmod(sum(n_per_arm.values()), len(block))
    if rest or any(n_per_arm[a] != blocks * block.count(a) for a in n_per_arm):
        labels = [arm for arm, k in n_per_arm.items() for _ in range(k)]
        return [labels[i] for i in rng.permutation(len(labels))]
    order = rng.permuted(np.tile(np.arange(len(block)), (blocks, 1)), axis=1)
    return [block[i] for i in order.ravel()]


def trial_seeds(seed: int, variant: str, n_total: int, purpose: int, block: int, trials: int):
    """The ``SeedSequence`` of each trial of a block (the block's stream key plus the trial)."""
    base = stream(seed, variant, n_total, purpose, block).bit_generator.seed_seq
    assert isinstance(base, np.random.SeedSequence)
    for i in range(trials):
        yield np.random.SeedSequence(base.entropy, spawn_key=(*base.spawn_key, i))


def trial_params(
    scenario: Scenario, purpose: int, rng: np.random.Generator | None
) -> dict[str, ArmParams]:
    """Parameter values of one trial: one joint draw for assurance (from ``rng``), else those
    of :func:`~simtrial.engines.decide.purpose_values` (means, the null, a safe or unsafe SAE
    rate)."""
    if purpose == ASSURANCE:
        assert rng is not None
        values = drawn_values(scenario, 1, rng)
    else:
        values = purpose_values(scenario, purpose, 1, None)
    # Under the null a treatment arm takes the control arm's whole model, including its use of
    # operations (no cell doses): the null holds exactly, as in the other engines.
    treatments = set(scenario.analysis.treatments) if purpose != TYPE1 else set()
    return {arm: ArmParams.of(v, arm in treatments) for arm, v in values.items()}


def simulate_trial(
    scenario: Scenario,
    n_total: int,
    seq: np.random.SeedSequence,
    purpose: int = POWER,
    trace: list[TraceRow] | None = None,
    trace_id: int = 0,
    params: dict[str, ArmParams] | None = None,
) -> TrialOutcome:
    """Simulate one trial with a fresh environment and generators from ``seq``.

    ``params`` (the arms' values for ``purpose``) may be passed when they do not depend on the
    trial (power and type I error); for assurance they are drawn from the trial's stream.

    Examples
    --------
    >>> from simtrial.scenario.load import load_scenario
    >>> s = load_scenario("scenarios/ra-capacity.yaml").variants["ample"]  # doctest: +SKIP
    >>> simulate_trial(s, 40, np.random.SeedSequence(1)).arms["msc"].infusions  # doctest: +SKIP
    """
    # children 0 and 1 as before; child 2 only times the SAEs of an event log
    journey, operations, times = (np.random.Generator(np.random.PCG64(s)) for s in seq.spawn(3))
    if params is None or purpose == ASSURANCE:
        params = trial_params(scenario, purpose, journey)
    env = CountingEnvironment()
    model = TrialModel(
        env,
        scenario,
        params,
        scenario.n_per_arm(n_total),
        journey,
        operations,
        trace,
        trace_id,
        times,
    )
    model.run()
    return model.outcome(env.scheduled)


@dataclass(frozen=True)
class Operational:
    """Operations totals of a unit of work (power trials only): trial durations and SimPy
    events, and per arm the weeks of infusion delay, infusions delayed and infusions missed.

    A type of its own, not :class:`~simtrial.engines.base.ArmTotals`: these are calendar-time
    figures only the DES simulates (capacity, waiting, the stopping look's duration), kept for
    the power trials alone, and partly per trial rather than per arm. The per-arm counts they
    are divided by (infusions given, patients randomised) are the power trials'
    :class:`ArmTotals`."""

    trials: int = 0
    duration: float = 0.0
    duration_sq: float = 0.0
    events: int = 0
    delay: dict[str, float] = field(default_factory=dict)
    delayed: dict[str, int] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: Operational) -> Operational:
        def add(x: dict[str, Any], y: dict[str, Any]) -> dict[str, Any]:
            return {k: x.get(k, 0) + y.get(k, 0) for k in {**x, **y}}

        return Operational(
            self.trials + other.trials,
            self.duration + other.duration,
            self.duration_sq + other.duration_sq,
            self.events + other.events,
            add(self.delay, other.delay),
            add(self.delayed, other.delayed),
            add(self.missed, other.missed),
        )


TaskOutput = tuple[Task, BlockStats, dict[str, ArmTotals], Operational]


class DESEngine(BlockEngine):
    """Discrete-event (SimPy) engine in calendar time; the only engine for ``operations``.

    Parameters
    ----------
    trials_per_block : int
        Trials per unit of work (:data:`TRIALS_PER_BLOCK`; part of the random-stream keys).
    """

    name: ClassVar[str] = "des"

    def __init__(self, trials_per_block: int = TRIALS_PER_BLOCK) -> None:
        super().__init__(trials_per_block)

    def check(self, scenario: Scenario) -> None:
        extra = []
        if scenario.operations is not None and scenario.enrolment is None:
            extra.append(
                "operations without enrolment.rate_per_week (capacity is shared in calendar "
                "time, so patients need arrival times: add an enrolment block)"
            )
        refuse(scenario, self.name, extra)

    def tasks(self, scenario: Scenario, simulations: int) -> list[Task]:
        """Independent units of work ``(purpose, block, trials)`` for one point: the purposes
        of :func:`~simtrial.engines.decide.purposes`, as in the vectorized engine."""
        return [(p, b, t) for p in purposes(scenario) for b, t in self.blocks(simulations)]

    def run_task(
        self, scenario: Scenario, variant: str, n_total: int, task: Task, seed: int
    ) -> TaskOutput:
        """Simulate one block and decide it on the shared path (:class:`Design`); returns the
        trial-level counts, per-arm and operational totals."""
        purpose, block, trials = task
        params = None if purpose == ASSURANCE else trial_params(scenario, purpose, None)
        outcomes = [
            simulate_trial(scenario, n_total, seq, purpose, params=params)
            for seq in trial_seeds(seed, variant, self.point_key(n_total), purpose, block, trials)
        ]
        data, arrivals = trial_data(scenario, n_total, outcomes)
        decisions = Design(scenario).decide(data, arrivals, scenario.endpoint.end_week)
        totals = {arm: _arm_totals([o.arms[arm] for o in outcomes]) for arm in scenario.arms}
        ops = Operational()
        if purpose == POWER:
            ops = _operational(outcomes, decisions.duration)
        return task, block_stats(scenario, n_total, trials, decisions), totals, ops

    def combine(
        self, scenario: Scenario, n_total: int, simulations: int, outputs: list[TaskOutput]
    ) -> PointResult:
        """Aggregate :meth:`run_task` outputs in a canonical order (see :func:`combine`)."""
        return combine(scenario, n_total, simulations, outputs)

    def trace(
        self, scenario: Scenario, variant: str, n_total: int, trials: int, seed: int
    ) -> list[TraceRow]:
        """The event log of the first ``trials`` power trials of a point, sorted by time.

        These are the same trials as the first ones :meth:`evaluate` simulates.
        """
        rows: list[TraceRow] = []
        done = 0
        for block, size in self.blocks(trials):
            seeds = trial_seeds(seed, variant, n_total, POWER, block, size)
            for seq in seeds:
                simulate_trial(scenario, n_total, seq, POWER, rows, done)
                done += 1
        order = {e: i for i, e in enumerate(_EVENT_ORDER)}
        return sorted(rows, key=lambda r: (r[0], r[3], order.get(r[4], 99), str(r[1])))


_EVENT_ORDER = (
    "randomised",
    "response",
    "infusion",
    "adverse_event",
    "infusion_waiting",
    "visit",
    "redose_decided",
    "infusion_missed",
    "serious_adverse_event",
    "endpoint",
    "dropout",
)


def _arm_totals(trials: list[ArmTotals]) -> ArmTotals:
    """One arm's totals over a block's trials."""
    return sum(trials, ArmTotals())


def trial_data(
    scenario: Scenario, n_total: int, outcomes: list[TrialOutcome]
) -> tuple[dict[str, ArmData], np.ndarray | None]:
    """The block's trials as the shared decision path sees them (the contract of
    :mod:`simtrial.engines.decide`): per arm, per-trial counts and per-patient arrays in
    randomisation order, with randomisation weeks; and every trial's randomisation weeks
    (``None`` without enrolment: everybody is randomised at week 0)."""
    calendar = scenario.enrolment is not None
    timing = scenario.endpoint.kind == "time_to_loss"
    data: dict[str, ArmData] = {}
    for arm, n in scenario.n_per_arm(n_total).items():

        def stack(key: str, arm: str = arm, n: int = n) -> np.ndarray:
            return np.stack([o.patients[arm][key] for o in outcomes]).reshape(len(outcomes), n)

        data[arm] = ArmData(
            n=n,
            successes=np.array([o.arms[arm].successes for o in outcomes], dtype=np.int64),
            analysed=np.array([o.arms[arm].analysed for o in outcomes], dtype=np.int64),
            success=stack("success"),
            in_study=stack("in_study"),
            sae=stack("sae"),
            exposure_weeks=stack("exposure_weeks"),
            randomised_week=stack("randomised_week") if calendar else None,
            loss_time=stack("loss_time") if timing else None,
            loss_event=stack("loss_event") if timing else None,
        )
    arrivals = np.stack([o.arrivals for o in outcomes]) if calendar else None
    return data, arrivals


def _operational(outcomes: list[TrialOutcome], durations: np.ndarray | None) -> Operational:
    """Operational totals of the power trials; ``durations``: first randomisation to the look
    that ended each trial (the last endpoint week of a trial run to the end)."""
    arms = outcomes[0].arms if outcomes else {}
    if durations is None:
        durations = np.array([o.duration for o in outcomes])
    return Operational(
        trials=len(outcomes),
        duration=float(durations.sum()),
        duration_sq=float((durations**2).sum()),
        events=sum(o.events for o in outcomes),
        delay={a: sum(o.delay[a] for o in outcomes) for a in arms},
        delayed={a: sum(o.delayed[a] for o in outcomes) for a in arms},
        missed={a: sum(o.missed[a] for o in outcomes) for a in arms},
    )


def combine(
    scenario: Scenario, n_total: int, simulations: int, outputs: list[TaskOutput]
) -> PointResult:
    """Aggregate :meth:`DESEngine.run_task` outputs, sorted by task (order-free sums).

    Power, type I error, assurance, early stops and the per-arm figures come from the shared
    path (:func:`simtrial.engines.decide.combine`); the operational figures are added to
    ``extra`` and the simulated ``expected_duration_weeks`` (with its SE) replaces the closed
    form.
    """
    outputs = sorted(outputs, key=lambda o: o[0])
    result = combine_counts(scenario, n_total, simulations, [o[:3] for o in outputs])  # type: ignore[misc]
    ops = Operational()
    power = {arm: ArmTotals() for arm in scenario.arms}  # per-arm totals of the power trials
    for (purpose, _, _), _, totals, task_ops in outputs:
        ops = ops + task_ops
        if purpose == POWER:
            power = {arm: power[arm] + t for arm, t in totals.items()}
    scheduled = [a for a, spec in scenario.arms.items() if spec.schedule is not None]
    given = {a: power[a].infusions for a in scheduled}
    randomised = {a: power[a].randomised for a in scheduled}
    extra = dict(result.extra)
    extra["mean_infusion_delay_weeks"] = {
        a: ops.delay[a] / given[a] if given[a] else 0.0 for a in scheduled
    }
    extra["infusions_delayed_fraction"] = {
        a: ops.delayed[a] / given[a] if given[a] else 0.0 for a in scheduled
    }
    extra["infusions_missed_before_endpoint"] = {
        a: ops.missed[a] / randomised[a] if randomised[a] else 0.0 for a in scheduled
    }
    duration = None
    if ops.trials and scenario.enrolment is not None:
        duration = ops.duration / ops.trials
        variance = max(ops.duration_sq / ops.trials - duration**2, 0.0)
        extra["expected_duration_weeks_se"] = math.sqrt(variance / ops.trials)
    return replace(result, expected_duration_weeks=duration, extra=extra)


def iter_trials(
    scenario: Scenario, variant: str, n_total: int, seed: int, trials: int, purpose: int = POWER
) -> Iterator[TrialOutcome]:
    """The first ``trials`` trials of a point, one by one (for tests and benchmarks)."""
    engine = DESEngine()
    for block, size in engine.blocks(trials):
        for seq in trial_seeds(seed, variant, n_total, purpose, block, size):
            yield simulate_trial(scenario, n_total, seq, purpose)


__all__ = [
    "DESEngine",
    "TrialModel",
    "TrialOutcome",
    "combine",
    "simulate_trial",
    "trial_seeds",
]
