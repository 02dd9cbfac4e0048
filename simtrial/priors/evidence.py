"""Evidence files: the pilot data behind the fitted priors, one YAML file per source.

A file under ``priors/evidence/`` records one source (a pilot abstract or a historical table):
its arms with their infusion schedules, and a list of ``observations``, each with the verbatim
sentence (``quote``) it was taken from, the fit that uses it (``fit``: ``msc``, ``uc_control``,
``as_placebo`` or ``null`` for numbers kept for the record) and the assumptions made.

Observation kinds and what the fits make of them (see :mod:`simtrial.priors.models`):

=================== ========================================= ====================================
kind                fields                                    likelihood
=================== ========================================= ====================================
responders          arm, n, responders, week                  Binomial(n, c·π(week))
ever_responded      arm, n, responders, within_weeks          Binomial(n, c·(1-(1-q)^k))
relapses            responders, relapses, follow_up_weeks     Binomial(responders, 1-exp(-λT))
                    [study_weeks, remission_within_weeks]     (v2: remission time uniform)
mean_duration       responders, mean_weeks                    mean ~ Gamma(responders, responders·λ)
                    [censored_at_weeks]                       (v2: censored exponentials)
redosing            n, infusions, responding, horizon_weeks   re-dosing margins (v2)
infusion_reactions  infusions, events                         Binomial(infusions, p_ae)
serious_events      patients, events, follow_up_weeks         Poisson(rate · patient-years)
count               n, events, description                    (not used; for the record)
continuous          values, description                       (not used)
reported_statistic  statistic, reported, reproduced, note     (checked by the tests)
=================== ========================================= ====================================

Files are loaded safely (:func:`simtrial.yamlio.load_yaml`) and validated with pydantic; any
problem raises :class:`simtrial.errors.ScenarioError` naming the file, the line and the field.

Examples
--------
>>> from simtrial.priors.evidence import load_all
>>> ev = load_all()
>>> ev["seed_003_ankylosing_spondylitis"].arms["msc"].infusion_weeks
[0.0, 1.0, 2.0, 3.0]
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simtrial.errors import ScenarioError
from simtrial.yamlio import Loc, format_loc, line_for, load_yaml

__all__ = [
    "INDICATIONS",
    "Arm",
    "Evidence",
    "evidence_dir",
    "load_all",
    "load_evidence",
    "missing_evidence",
    "observations_for",
]

INDICATIONS: tuple[str, ...] = (
    "ulcerative_colitis",
    "juvenile_idiopathic_arthritis",
    "systemic_lupus_erythematosus",
    "ankylosing_spondylitis",
    "rheumatoid_arthritis",
)
"""The indications of the ``msc`` fit, in the order of its ``indication`` dimension."""

Indication = Literal[
    "ulcerative_colitis",
    "juvenile_idiopathic_arthritis",
    "systemic_lupus_erythematosus",
    "ankylosing_spondylitis",
    "rheumatoid_arthritis",
]
FitName = Literal["msc", "uc_control", "as_placebo"]
NonNegInt = Annotated[int, Field(ge=0)]
PosInt = Annotated[int, Field(gt=0)]
PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Arm(_Strict):
    """One arm of a source: what was given, and when (weeks from the first infusion)."""

    description: str
    infusion_weeks: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = None
    quote: str | None = None
    assumptions: list[str] = []

    @field_validator("infusion_weeks")
    @classmethod
    def _increasing(cls, weeks: list[float] | None) -> list[float] | None:
        if weeks is not None:
            if not weeks:
                raise ValueError("give at least one infusion week")
            for a, b in zip(weeks, weeks[1:], strict=False):
                if b <= a:
                    raise ValueError(f"weeks must increase ({a} then {b})")
        return weeks


class _Observation(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    fit: FitName | None
    quote: Annotated[str, Field(min_length=1)]
    arm: str | None = None
    assumptions: list[str] = []


class _ResponderCount(_Observation):
    """``responders`` of ``n`` patients (at most n) on ``endpoint``."""

    n: PosInt
    responders: NonNegInt
    endpoint: str

    @field_validator("responders")
    @classmethod
    def _at_most_n(cls, r: int, info: Any) -> int:
        n = info.data.get("n")
        if n is not None and r > n:
            raise ValueError(f"{r} responders is more than n = {n}")
        return r


class Responders(_ResponderCount):
    """``responders`` of ``n`` patients responding at ``week``."""

    kind: Literal["responders"]
    week: PosFloat


class EverResponded(_ResponderCount):
    """``responders`` of ``n`` patients responded at some time within ``within_weeks``."""

    kind: Literal["ever_responded"]
    within_weeks: PosFloat


class Relapses(_Observation):
    """``relapses`` among ``responders`` within ``follow_up_weeks`` (time at risk, assumed)."""

    kind: Literal["relapses"]
    responders: PosInt
    relapses: NonNegInt
    follow_up_weeks: PosFloat
    study_weeks: PosFloat | None = None
    """Length of the study (v2): remission reached uniformly in ``(0, remission_within_weeks)``,
    relapse seen if it happens before ``study_weeks``."""
    remission_within_weeks: Annotated[float, Field(ge=0)] | None = None

    @field_validator("relapses")
    @classmethod
    def _at_most(cls, k: int, info: Any) -> int:
        n = info.data.get("responders")
        if n is not None and k > n:
            raise ValueError(f"{k} relapses is more than the {n} responders")
        return k


class MeanDuration(_Observation):
    """Mean response duration ``mean_weeks`` over ``responders`` patients.

    ``censored_at_weeks``: the longest duration the study could observe (follow-up ended then);
    ``msc`` (v2) uses the censored-exponential likelihood with it, ``msc_v1`` ignores it.
    """

    kind: Literal["mean_duration"]
    responders: PosInt
    mean_weeks: PosFloat
    censored_at_weeks: PosFloat | None = None

    @model_validator(mode="after")
    def _mean_within_cut_off(self) -> MeanDuration:
        if self.censored_at_weeks is not None and self.mean_weeks > self.censored_at_weeks:
            raise _FieldError(
                f"a mean of {self.mean_weeks} weeks cannot exceed the cut-off "
                f"{self.censored_at_weeks}",
                ("censored_at_weeks",),
            )
        return self


class Redosing(_Observation):
    """A course with re-dosing on loss of response, observed by its margins.

    ``infusions``: patients given 1, 2 and 3 infusions (one first infusion, re-doses on loss);
    ``responding``: patients responding at ``horizon_weeks``; ``responding_quote``: the
    sentence that count is taken from (``quote`` is the re-dosing sentence).
    """

    kind: Literal["redosing"]
    n: PosInt
    infusions: list[NonNegInt]
    responding: NonNegInt
    horizon_weeks: PosFloat
    endpoint: str
    responding_quote: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _margins(self) -> Redosing:
        if len(self.infusions) != 3 or sum(self.infusions) != self.n:
            raise _FieldError(
                f"infusions must list the patients given 1, 2 and 3 infusions, summing to n = "
                f"{self.n}; got {self.infusions}",
                ("infusions",),
            )
        if self.responding > self.n:
            raise _FieldError(
                f"{self.responding} responding is more than n = {self.n}", ("responding",)
            )
        return self


class InfusionReactions(_Observation):
    """``events`` infusion reactions in ``infusions`` infusions."""

    kind: Literal["infusion_reactions"]
    infusions: PosInt
    events: NonNegInt


class SeriousEvents(_Observation):
    """``events`` serious adverse events in ``patients`` followed ``follow_up_weeks``."""

    kind: Literal["serious_events"]
    patients: PosInt
    events: NonNegInt
    follow_up_weeks: PosFloat

    @property
    def patient_years(self) -> float:
        return self.patients * self.follow_up_weeks / 52.0


class Count(_Observation):
    """A count kept for the record (not used by any fit)."""

    kind: Literal["count"]
    n: PosInt
    events: NonNegInt
    description: str


class Continuous(_Observation):
    """Continuous summaries kept for the record (not used by any fit)."""

    kind: Literal["continuous"]
    description: str
    values: dict[str, list[Finite]]


class ReportedStatistic(_Observation):
    """A statistic the source reports, and whether the extracted counts reproduce it."""

    kind: Literal["reported_statistic"]
    statistic: str
    reported: list[Finite]
    reproduced: bool
    note: str


Observation = Annotated[
    Responders
    | EverResponded
    | Relapses
    | MeanDuration
    | Redosing
    | InfusionReactions
    | SeriousEvents
    | Count
    | Continuous
    | ReportedStatistic,
    Field(discriminator="kind"),
]

_USABLE: dict[str, frozenset[str]] = {
    "msc": frozenset(
        {
            "responders",
            "ever_responded",
            "relapses",
            "mean_duration",
            "redosing",
            "infusion_reactions",
            "serious_events",
        }
    ),
    "uc_control": frozenset({"responders"}),
    "as_placebo": frozenset({"responders"}),
}


class Evidence(_Strict):
    """One evidence file (one source)."""

    study: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    title: str
    citation: str
    source_file: str
    indication: Indication
    design: str
    arms: dict[str, Arm]
    observations: list[Observation]
    path: Path | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Evidence:
        seen: set[str] = set()
        for i, obs in enumerate(self.observations):
            where = ("observations", i)
            if obs.id in seen:
                raise _FieldError(f"duplicate observation id {obs.id!r}", where + ("id",))
            seen.add(obs.id)
            if obs.arm is not None and obs.arm not in self.arms:
                raise _FieldError(
                    f"unknown arm {obs.arm!r}; arms of this file: {', '.join(self.arms)}",
                    where + ("arm",),
                )
            if obs.fit is not None and obs.kind not in _USABLE[obs.fit]:
                raise _FieldError(
                    f"fit {obs.fit!r} cannot use a {obs.kind!r} observation "
                    f"(it uses: {', '.join(sorted(_USABLE[obs.fit]))}); set fit: null",
                    where + ("fit",),
                )
            if obs.fit == "msc" and obs.kind in {"responders", "ever_responded"}:
                arm = self.arms.get(obs.arm or "")
                if arm is None or arm.infusion_weeks is None:
                    raise _FieldError(
                        "the msc fit needs the arm's infusion_weeks to compute π(week)",
                        where + ("arm",),
                    )
        return self

    def observations_for(self, fit: str) -> Iterator[Any]:
        """The observations used by ``fit``."""
        return (obs for obs in self.observations if obs.fit == fit)


class _FieldError(ValueError):
    """A cross-field problem with the location of the field to blame."""

    def __init__(self, message: str, loc: Loc) -> None:
        super().__init__(message)
        self.loc = loc


def evidence_dir() -> Path:
    """The evidence directory: ``SIMTRIAL_EVIDENCE_DIR`` or ``<repo>/priors/evidence``."""
    env = os.environ.get("SIMTRIAL_EVIDENCE_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "priors" / "evidence"


def _data_loc(data: Any, loc: tuple[Any, ...]) -> Loc:
    """Drop pydantic's discriminated-union tags from ``loc``.

    Pydantic reports ``observations.3.responders.n`` for field ``n`` of an item whose ``kind``
    is ``responders``: the tag right after a list index is not a field.
    """
    out: list[str | int] = []
    node = data
    after_index = False
    for part in loc:
        if after_index and isinstance(node, dict) and node.get("kind") == part:
            after_index = False
            continue
        after_index = False
        out.append(part)
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            after_index = True
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            node = None
    return tuple(out)


def load_evidence(path: str | Path) -> Evidence:
    """Load and validate one evidence file.

    Raises
    ------
    ScenarioError
        With ``file``, ``line`` and ``path`` of the first problem found.
    """
    path = Path(path)
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError("an evidence file must be a mapping of fields", file=str(path), line=1)
    if "path" in data:
        raise ScenarioError(
            "unknown field 'path'", file=str(path), line=line_for(lines, ("path",)), path="path"
        )
    try:
        evidence = Evidence.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _FieldError):
            # the error's location is relative to the model that raised it
            loc = _data_loc(data, tuple(err["loc"])) + tuple(ctx_error.loc)
            message = str(ctx_error)
        else:
            loc = _data_loc(data, tuple(err["loc"]))
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = f"unknown field {loc[-1]!r}"
            elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc = loc + ("kind",)
                message = f"unknown or missing observation kind; {message}"
        raise ScenarioError(
            message, file=str(path), line=line_for(lines, loc), path=format_loc(loc) or None
        ) from None
    if evidence.study != path.stem:
        raise ScenarioError(
            f"study {evidence.study!r} must equal the file name {path.stem!r}",
            file=str(path),
            line=line_for(lines, ("study",)),
            path="study",
        )
    return evidence.model_copy(update={"path": path})


def load_all(directory: str | Path | None = None) -> dict[str, Evidence]:
    """Load every ``*.yaml`` evidence file of ``directory`` (default :func:`evidence_dir`)."""
    directory = Path(directory) if directory is not None else evidence_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ScenarioError(f"no evidence files (*.yaml) in {directory}", file=str(directory))
    return {f.stem: load_evidence(f) for f in files}


def missing_evidence(evidence: Mapping[str, Evidence], fit: str) -> list[str]:
    """What ``fit`` would have to invent: the indications of ``msc`` without a responder
    count (``responders`` or ``ever_responded``), or the whole fit without observations.

    ``simtrial priors fit`` refuses to write a prior with no data behind it.
    """
    found = observations_for(evidence, fit)
    if fit != "msc":
        return [] if found else [f"any observation with fit: {fit}"]
    covered = {ev.indication for ev, obs in found if obs.kind in ("responders", "ever_responded")}
    return [
        f"a responder count for {name} (fit: msc)" for name in INDICATIONS if name not in covered
    ]


def observations_for(evidence: Mapping[str, Evidence], fit: str) -> list[tuple[Evidence, Any]]:
    """All ``(source, observation)`` pairs used by ``fit``, in file order."""
    return [(ev, obs) for ev in evidence.values() for obs in ev.observations_for(fit)]
