"""Scenario files: schema, loading, variants.

A scenario YAML (DESIGN §4) is loaded safely (:mod:`simtrial.yamlio`), checked against the typed
models below (pydantic, unknown keys are errors) and, when it has ``variants``, each variant is
deep-merged into the base and validated as a whole scenario. Any problem raises one
:class:`~simtrial.errors.ScenarioError` naming the file, the line and the field path.

Choices where DESIGN is silent (documented here and in the README):

- ``allocation`` is a positive integer; every ``n_total`` must split exactly by the allocation
  ratio (e.g. 2:1 needs a multiple of 3), so no arm size is silently rounded.
- With ``variants``, only the variants are reported (``base`` is the name when there are none).
- Deep merge: mappings merge key by key; anything else (numbers, lists) replaces.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    field_validator,
    model_validator,
)

from simtrial.scenario.parameters import Parameter, PriorParam, parse_parameter
from simtrial.yamlio import Loc


class FieldIssue(ValueError):
    """A validation problem at a location below the field being validated."""

    def __init__(self, message: str, sub: Loc = ()) -> None:
        super().__init__(message)
        self.sub = tuple(sub)


def _param(kind: Any) -> Any:
    def validate(value: Any) -> Parameter:
        return parse_parameter(value, kind)

    return PlainValidator(validate)


Probability = Annotated[Parameter, _param("probability")]
Rate = Annotated[Parameter, _param("rate")]

NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Enrolment(_Model):
    rate_per_week: PosFloat


class Endpoint(_Model):
    """``responder`` at ``week``; ``durable_responder`` over [``from_week``, ``to_week``];
    ``time_to_loss`` followed up to ``follow_up_weeks``."""

    kind: Literal["responder", "durable_responder", "time_to_loss"]
    week: PosFloat | None = None
    from_week: PosFloat | None = None
    to_week: PosFloat | None = None
    follow_up_weeks: PosFloat | None = None
    missing: Literal["non_responder", "exclude"] = "non_responder"

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Endpoint:
        need = {
            "responder": ("week",),
            "durable_responder": ("from_week", "to_week"),
            "time_to_loss": ("follow_up_weeks",),
        }[self.kind]
        for name in need:
            if getattr(self, name) is None:
                raise FieldIssue(f"required for endpoint kind {self.kind!r}", (name,))
        for name in ("week", "from_week", "to_week", "follow_up_weeks"):
            if name not in need and getattr(self, name) is not None:
                raise FieldIssue(
                    f"not used by endpoint kind {self.kind!r} (it uses {', '.join(need)})",
                    (name,),
                )
        if self.kind == "durable_responder":
            assert self.from_week is not None and self.to_week is not None
            if self.to_week <= self.from_week:
                raise FieldIssue(
                    f"must be after from_week ({self.from_week:g}), got {self.to_week:g}",
                    ("to_week",),
                )
        return self

    @property
    def end_week(self) -> float:
        """The last week a patient is followed for this endpoint."""
        value = {"responder": self.week, "durable_responder": self.to_week}.get(
            self.kind, self.follow_up_weeks
        )
        assert value is not None
        return value


class RedoseOnLoss(_Model):
    """Extra infusion when loss of response is seen at an assessment visit."""

    max: Annotated[int, Field(ge=1)]
    assess_every_weeks: PosFloat
    delay_weeks: NonNegFloat = 0.0


class Schedule(_Model):
    infusion_weeks: Annotated[list[NonNegFloat], Field(min_length=1)]
    redose_on_loss: RedoseOnLoss | None = None

    @field_validator("infusion_weeks")
    @classmethod
    def _increasing(cls, weeks: list[float]) -> list[float]:
        for i in range(1, len(weeks)):
            if weeks[i] <= weeks[i - 1]:
                raise FieldIssue(
                    f"weeks must increase (week {weeks[i]:g} follows week {weeks[i - 1]:g})",
                    (i,),
                )
        return weeks


class Response(_Model):
    induction: Probability
    loss_per_week: Rate = Field(default_factory=lambda: parse_parameter(0.0, "rate"))
    ceiling: Probability = Field(default_factory=lambda: parse_parameter(1.0, "probability"))
    onset_weeks: NonNegFloat = 0.0


class AdverseEvents(_Model):
    per_infusion: Probability = Field(default_factory=lambda: parse_parameter(0.0, "probability"))
    serious_rate_per_year: Rate = Field(default_factory=lambda: parse_parameter(0.0, "rate"))


class Dropout(_Model):
    per_year: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]

    @property
    def hazard_per_week(self) -> float:
        """Constant hazard δ with P(dropout within 52 weeks) = ``per_year``: −ln(1 − p)/52."""
        return -math.log1p(-self.per_year) / 52.0


class Arm(_Model):
    """An arm gives either ``endpoint_probability`` or ``schedule`` + ``response``."""

    allocation: Annotated[int, Field(ge=1)] = 1
    endpoint_probability: Probability | None = None
    schedule: Schedule | None = None
    response: Response | None = None
    adverse_events: AdverseEvents | None = None
    dropout: Dropout | None = None

    @model_validator(mode="after")
    def _one_outcome_model(self) -> Arm:
        has_model = self.schedule is not None or self.response is not None
        if self.endpoint_probability is not None and has_model:
            raise FieldIssue(
                "give either endpoint_probability or schedule + response, not both",
                ("endpoint_probability",),
            )
        if self.endpoint_probability is None:
            if self.schedule is None:
                raise FieldIssue(
                    "an arm needs endpoint_probability, or schedule + response", ("schedule",)
                )
            if self.response is None:
                raise FieldIssue("an arm with a schedule needs a response model", ("response",))
        if self.adverse_events is not None and self.schedule is None:
            raise FieldIssue(
                "adverse events are counted per infusion; this arm has no schedule",
                ("adverse_events",),
            )
        return self

    @property
    def dropout_hazard(self) -> float:
        return self.dropout.hazard_per_week if self.dropout else 0.0


class Futility(_Model):
    """Non-binding futility: conditional power (frequentist tests) or the Bayesian predictive
    probability of success (``bayes_posterior``) below a threshold."""

    conditional_power_below: Annotated[float, Field(gt=0, lt=1)] | None = None
    predictive_probability_below: Annotated[float, Field(gt=0, lt=1)] | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> Futility:
        given = [
            f
            for f in ("conditional_power_below", "predictive_probability_below")
            if getattr(self, f) is not None
        ]
        if len(given) != 1:
            raise FieldIssue(
                "give one of conditional_power_below or predictive_probability_below",
                (given[1],) if len(given) > 1 else (),
            )
        return self


class Interims(_Model):
    information: Annotated[list[Annotated[float, Field(gt=0, le=1)]], Field(min_length=1)]
    efficacy_spending: Literal["obrien_fleming", "pocock", "none"] = "obrien_fleming"
    futility: Futility | None = None

    @field_validator("information")
    @classmethod
    def _fractions(cls, info: list[float]) -> list[float]:
        for i in range(1, len(info)):
            if info[i] <= info[i - 1]:
                raise FieldIssue("information fractions must increase", (i,))
        if info[-1] != 1.0:
            raise FieldIssue("the last look must be at information 1.0", (len(info) - 1,))
        return info


class Bayes(_Model):
    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.975
    margin: Annotated[float, Field(gt=-1, lt=1)] = 0.0
    treatment_prior: Probability = Field(
        default_factory=lambda: parse_parameter({"beta": [1, 1]}, "probability")
    )
    control_prior: Probability = Field(
        default_factory=lambda: parse_parameter({"beta": [1, 1]}, "probability")
    )
    robust_weight: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Weight of a vague Beta(1, 1) component added to the control prior (RBesT robustify)."""

    @field_validator("treatment_prior", "control_prior")
    @classmethod
    def _distribution(cls, prior: Parameter) -> Parameter:
        from simtrial.scenario.parameters import BetaParam

        if not isinstance(prior, BetaParam | PriorParam):
            raise FieldIssue(f"a prior must be {{beta: [a, b]}} or {{prior: FIT/VAR}}, got {prior}")
        return prior


def _increasing_pair(pair: list[float]) -> list[float]:
    if len(pair) != 2:
        raise FieldIssue(f"give two rates [low, high], got {len(pair)} value(s)")
    if pair[1] <= pair[0]:
        raise FieldIssue(f"must increase: [low, high], got [{pair[0]:g}, {pair[1]:g}]", (1,))
    return pair


class Calibrate(_Model):
    """Calibrate the threshold (Bayesian) or alpha so that the worst-case type I error over
    control rates in ``over`` is at most ``type1_error`` (:mod:`simtrial.planning.curves`)."""

    type1_error: Annotated[float, Field(gt=0, lt=0.5)]
    over: list[Annotated[float, Field(gt=0, lt=1)]]

    @field_validator("over")
    @classmethod
    def _pair(cls, over: list[float]) -> list[float]:
        return _increasing_pair(over)


class Type1Curve(_Model):
    """Type I error, power over a grid of true control rates (:mod:`~simtrial.planning.curves`)."""

    control: list[Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=lambda: [0.01, 0.99])
    points: Annotated[int, Field(ge=2, le=1001)] = 99

    @field_validator("control")
    @classmethod
    def _pair(cls, control: list[float]) -> list[float]:
        return _increasing_pair(control)


class Reestimation(_Model):
    """Sample-size re-estimation by conditional power at the selection look (as rpact):
    patients per treatment arm in each later stage, between the two bounds."""

    conditional_power: Annotated[float, Field(gt=0, lt=1)]
    min_per_stage: Annotated[int, Field(ge=1)]
    max_per_stage: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _bounds(self) -> Reestimation:
        if self.max_per_stage < self.min_per_stage:
            raise FieldIssue(
                f"max_per_stage {self.max_per_stage} is below min_per_stage {self.min_per_stage}",
                ("max_per_stage",),
            )
        return self


class Selection(_Model):
    """Treatment selection inside one trial (multi-arm multi-stage; simtrial.analysis.mams)."""

    at_look: Annotated[int, Field(ge=1)] = 1
    rule: Literal["best", "r_best", "epsilon", "all", "threshold"] = "best"
    r: Annotated[int, Field(ge=1)] | None = None
    epsilon: Annotated[float, Field(ge=0)] | None = None
    threshold: float | None = None
    effect_measure: Literal["estimate", "test_statistic"] = "estimate"
    reestimation: Reestimation | None = None

    @model_validator(mode="after")
    def _parameters(self) -> Selection:
        needs = {"r_best": "r", "epsilon": "epsilon", "threshold": "threshold"}
        if self.rule in needs and getattr(self, needs[self.rule]) is None:
            raise FieldIssue(f"rule {self.rule} needs {needs[self.rule]}", ("rule",))
        for f, rule in (("r", "r_best"), ("epsilon", "epsilon")):
            if getattr(self, f) is not None and self.rule != rule:
                raise FieldIssue(f"{f} is only used with rule: {rule}", (f,))
        return self


class Analysis(_Model):
    test: Literal["fisher_exact", "chi2", "chi2_yates", "z_pooled", "bayes_posterior", "logrank"]
    treatment: str | Annotated[list[str], Field(min_length=1)]
    control: str
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    sided: Literal["two", "one"] = "two"
    multiplicity: Literal["holm", "bonferroni"] | None = None
    interims: Interims | None = None
    bayes: Bayes | None = None
    calibrate: Calibrate | None = None
    selection: Selection | None = None
    # with selection only; defaults dunnett and at_least_one
    intersection_test: Literal["dunnett", "bonferroni", "simes", "sidak", "hierarchical"] | None = (
        None
    )
    success: Literal["at_least_one", "all"] | None = None

    @property
    def treatments(self) -> list[str]:
        return [self.treatment] if isinstance(self.treatment, str) else list(self.treatment)

    @model_validator(mode="after")
    def _consistent(self) -> Analysis:
        if self.test == "bayes_posterior" and self.bayes is None:
            raise FieldIssue("test bayes_posterior needs a bayes block", ("bayes",))
        if self.bayes is not None and self.test != "bayes_posterior":
            raise FieldIssue("a bayes block is only used with test: bayes_posterior", ("bayes",))
        futility = self.interims.futility if self.interims else None
        if futility is not None:
            if futility.predictive_probability_below is not None and self.test != "bayes_posterior":
                raise FieldIssue(
                    "predictive-probability futility needs test: bayes_posterior",
                    ("interims", "futility", "predictive_probability_below"),
                )
            if futility.conditional_power_below is not None and self.test == "bayes_posterior":
                raise FieldIssue(
                    "a Bayesian rule uses futility: {predictive_probability_below: ...}",
                    ("interims", "futility", "conditional_power_below"),
                )
        if self.calibrate is not None:
            why = None
            if self.test == "logrank":
                why = "the log-rank test has no control response rate to calibrate over"
            elif len(self.treatments) > 1:
                why = "calibration is for one treatment against the control"
            elif self.interims is not None and self.interims.efficacy_spending != "none":
                why = (
                    "calibration is exact and needs the final analysis to be the only "
                    "efficacy look; with efficacy looks at interims it is not supported "
                    "(set interims.efficacy_spending: none, or remove calibrate)"
                )
            if why:
                raise FieldIssue(why, ("calibrate",))
        if self.selection is not None:
            _check_selection(self)
            return self
        for f in ("intersection_test", "success"):
            if getattr(self, f) is not None:
                raise FieldIssue(f"{f} is only used with selection", (f,))
        if len(self.treatments) > 1 and self.multiplicity is None:
            raise FieldIssue(
                "several treatment arms need multiplicity: holm or bonferroni "
                "(or analysis.selection for a multi-arm multi-stage design)",
                ("multiplicity",),
            )
        return self


def _check_selection(a: Analysis) -> None:
    """What a selection design (simtrial.analysis.mams, as rpact) needs; refuse the rest."""
    assert a.selection is not None
    if len(a.treatments) < 2:
        raise FieldIssue("selection needs several treatment arms", ("treatment",))
    looks = len(a.interims.information) if a.interims else 1
    if looks < 2:
        raise FieldIssue(
            "selection needs interims.information with at least two looks", ("selection",)
        )
    if a.selection.at_look >= looks:
        raise FieldIssue(
            f"at_look {a.selection.at_look} must be an interim look (1..{looks - 1})",
            ("selection", "at_look"),
        )
    if a.test != "z_pooled":
        raise FieldIssue(
            f"test {a.test!r}: selection designs use the stage-wise pooled z test (as rpact): "
            "test: z_pooled",
            ("test",),
        )
    if a.sided != "one":
        raise FieldIssue(
            f"sided {a.sided!r}: selection designs are one-sided (as rpact): sided: one "
            "(e.g. alpha: 0.025)",
            ("sided",),
        )
    if a.multiplicity is not None:
        raise FieldIssue(
            "with selection, multiplicity is handled by closed testing: use intersection_test",
            ("multiplicity",),
        )
    if a.selection.r is not None and a.selection.r >= len(a.treatments):
        raise FieldIssue(
            f"r must be below the number of treatment arms ({len(a.treatments)})",
            ("selection", "r"),
        )
    assert a.interims is not None
    if a.interims.futility is not None:
        raise FieldIssue(
            "futility rules are not supported with selection (arms are dropped by selection)",
            ("interims", "futility"),
        )


class Safety(_Model):
    """Stop when P(SAE rate > max | data) > posterior_probability (Gamma–Poisson)."""

    max_serious_rate_per_year: PosFloat
    posterior_probability: Annotated[float, Field(gt=0, lt=1)]
    every_patients: Annotated[int, Field(ge=1)] | None = None
    prior: Rate | None = None

    @field_validator("prior")
    @classmethod
    def _gamma(cls, prior: Parameter | None) -> Parameter | None:
        from simtrial.scenario.parameters import GammaParam

        if prior is not None and not isinstance(prior, GammaParam):
            raise FieldIssue(f"the SAE-rate prior must be {{gamma: [shape, rate]}}, got {prior}")
        return prior


class SampleSize(_Model):
    target: Literal["power", "assurance"] = "power"
    goal: Annotated[float, Field(gt=0, lt=1)] = 0.8
    max_total: Annotated[int, Field(ge=2)] = 1000
    # exact engine: the answer's next ``stable_steps`` sizes must also reach the goal
    stable_steps: Annotated[int, Field(ge=0, le=100)] = 10


class Evaluate(_Model):
    n_total: Annotated[list[Annotated[int, Field(ge=2)]], Field(min_length=1)]
    sample_size: SampleSize | None = None
    # which summary of a distribution power uses (simtrial.scenario.parameters.point_value)
    point_values: Literal["auto", "mean", "median"] = "auto"
    type1_curve: Type1Curve | None = None
    sweep: dict[str, Any] | None = None
    """Sensitivity sweep ``{PATH: [values...]}``, checked by :mod:`simtrial.planning.sweep`."""
    sweep_n_total: Annotated[list[Annotated[int, Field(ge=2)]], Field(min_length=1)] | None = None


class Operations(_Model):
    sites: Annotated[int, Field(ge=1)] = 1
    infusion_slots_per_week: PosFloat | None = None
    doses_per_week: PosFloat | None = None
    visit_window_weeks: NonNegFloat = 0.0


_NAME = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_ARM = r"^[a-z][a-z0-9_]*$"


class Scenario(_Model):
    """One fully specified scenario (a variant is also a :class:`Scenario`)."""

    name: Annotated[str, Field(pattern=_NAME)]
    description: str = ""
    seed: Annotated[int, Field(ge=0)]
    simulations: Annotated[int, Field(ge=1)] = 10_000
    enrolment: Enrolment | None = None
    endpoint: Endpoint
    arms: Annotated[dict[str, Arm], Field(min_length=2)]
    analysis: Analysis
    safety: Safety | None = None
    evaluate: Evaluate
    operations: Operations | None = None

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        for arm in self.arms:
            if not _match(_ARM, arm):
                raise FieldIssue(
                    f"arm name {arm!r} must be lower case letters, digits and _ "
                    "(starting with a letter)",
                    ("arms", arm),
                )
        names = sorted(self.arms)
        if self.analysis.control not in self.arms:
            raise FieldIssue(
                f"no arm named {self.analysis.control!r} (arms: {', '.join(names)})",
                ("analysis", "control"),
            )
        for i, t in enumerate(self.analysis.treatments):
            sub: Loc = ("analysis", "treatment")
            if isinstance(self.analysis.treatment, list):
                sub += (i,)
            if t not in self.arms:
                raise FieldIssue(f"no arm named {t!r} (arms: {', '.join(names)})", sub)
            if t == self.analysis.control:
                raise FieldIssue(f"arm {t!r} cannot be both treatment and control", sub)
        total = sum(a.allocation for a in self.arms.values())
        for i, n in enumerate(self.evaluate.n_total):
            if n % total:
                ratio = ":".join(str(a.allocation) for a in self.arms.values())
                raise FieldIssue(
                    f"n_total {n} cannot be split {ratio} between the arms; "
                    f"use a multiple of {total}",
                    ("evaluate", "n_total", i),
                )
        end = self.endpoint.end_week
        for arm_name, spec in self.arms.items():
            if spec.schedule and spec.schedule.infusion_weeks[0] >= end:
                raise FieldIssue(
                    f"first infusion (week {spec.schedule.infusion_weeks[0]:g}) is not before "
                    f"the end of follow-up (week {end:g})",
                    ("arms", arm_name, "schedule", "infusion_weeks", 0),
                )
        sel = self.analysis.selection
        if sel is not None and sel.reestimation is not None:
            ratios = {self.arms[t].allocation for t in self.analysis.treatments}
            if len(ratios) > 1:
                raise FieldIssue(
                    "re-estimation (as rpact) needs the same allocation in every treatment arm",
                    ("analysis", "selection", "reestimation"),
                )
        if self.analysis.selection is not None and self.safety is not None:
            raise FieldIssue(
                "safety stopping is not supported with selection (analysis.selection)",
                ("safety",),
            )
        if self.endpoint.kind == "time_to_loss" and self.analysis.test != "logrank":
            raise FieldIssue(
                "endpoint time_to_loss is analysed by test: logrank", ("analysis", "test")
            )
        if self.endpoint.kind == "time_to_loss":
            for arm_name, spec in self.arms.items():
                if spec.schedule is None:
                    raise FieldIssue(
                        "time_to_loss needs a schedule + response model in every arm "
                        "(a placebo arm can have sham infusions)",
                        ("arms", arm_name, "endpoint_probability"),
                    )
        if self.evaluate.type1_curve is not None and (
            self.analysis.test == "logrank" or len(self.analysis.treatments) > 1
        ):
            raise FieldIssue(
                "the type I error curve is for a binary endpoint and one treatment arm",
                ("evaluate", "type1_curve"),
            )
        if self.analysis.test == "logrank" and self.endpoint.kind != "time_to_loss":
            raise FieldIssue("test logrank needs endpoint kind time_to_loss", ("analysis", "test"))
        return self

    # -- derived quantities ----------------------------------------------------------------

    @property
    def arm_names(self) -> list[str]:
        return list(self.arms)

    def n_per_arm(self, n_total: int) -> dict[str, int]:
        """Split ``n_total`` by the allocation ratio (exact; validated on load)."""
        total = sum(a.allocation for a in self.arms.values())
        return {name: n_total * arm.allocation // total for name, arm in self.arms.items()}

    def parameters(self) -> list[tuple[Loc, Parameter]]:
        """Every parameter in the scenario with its location."""
        out: list[tuple[Loc, Parameter]] = []
        for name, arm in self.arms.items():
            base: Loc = ("arms", name)
            if arm.endpoint_probability is not None:
                out.append((base + ("endpoint_probability",), arm.endpoint_probability))
            if arm.response is not None:
                for f in ("induction", "loss_per_week", "ceiling"):
                    out.append((base + ("response", f), getattr(arm.response, f)))
            if arm.adverse_events is not None:
                for f in ("per_infusion", "serious_rate_per_year"):
                    out.append((base + ("adverse_events", f), getattr(arm.adverse_events, f)))
        if self.analysis.bayes is not None:
            for f in ("treatment_prior", "control_prior"):
                out.append((("analysis", "bayes", f), getattr(self.analysis.bayes, f)))
        if self.safety is not None and self.safety.prior is not None:
            out.append((("safety", "prior"), self.safety.prior))
        return out


def _match(pattern: str, text: str) -> bool:
    """The whole of ``text`` matches (``re.fullmatch``: a trailing newline does not pass)."""
    import re

    return re.fullmatch(pattern, text) is not None


@dataclass(frozen=True)
class ScenarioSet:
    """A loaded scenario file: its variants, each a validated :class:`Scenario`.

    ``variants`` maps the variant name to its scenario; without ``variants`` in the file it
    holds one entry, ``"base"``.
    """

    path: Path | None
    name: str
    variants: dict[str, Scenario]
    raw: dict[str, Any]

    @property
    def base(self) -> Scenario:
        return next(iter(self.variants.values()))


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``: mappings key by key, anything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
