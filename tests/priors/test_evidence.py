"""Evidence files: they load, every quote is verbatim in its source, every number matches it,
and bad files fail with the file, the line and the field path."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simtrial.errors import ScenarioError
from simtrial.priors.evidence import INDICATIONS, evidence_dir, load_all, load_evidence

SHARED = Path(__file__).resolve().parents[3] / "shared"
"""The shared folder beside the repository (seeds/ and DESIGN.md), present in CI."""

needs_sources = pytest.mark.skipif(
    not (SHARED / "seeds").is_dir(), reason="../shared/seeds (the pilot abstracts) not present"
)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def evidence():
    return load_all()


def obs(evidence, study, oid):
    (found,) = [o for o in evidence[study].observations if o.id == oid]
    return found


def test_all_sources_load(evidence):
    assert set(evidence) == {
        "seed_000_ulcerative_colitis",
        "seed_001_juvenile_idiopathic_arthritis",
        "seed_002_systemic_lupus_erythematosus",
        "seed_003_ankylosing_spondylitis",
        "seed_004_rheumatoid_arthritis",
        "baeten2013_as_placebo",
    }
    used = {ev.indication for ev in evidence.values() if any(ev.observations_for("msc"))}
    assert used == set(INDICATIONS)
    assert evidence_dir() == Path(__file__).resolve().parents[2] / "priors" / "evidence"


@needs_sources
def test_every_quote_is_verbatim_in_its_source(evidence):
    for ev in evidence.values():
        source = _norm((SHARED / ev.source_file).read_text(encoding="utf-8"))
        quotes = [o.quote for o in ev.observations]
        quotes += [o.responding_quote for o in ev.observations if o.kind == "redosing"]
        quotes += [a.quote for a in ev.arms.values() if a.quote]
        for quote in quotes:
            assert _norm(quote) in source, f"{ev.study}: not verbatim in {ev.source_file}: {quote}"


def _pct(r, n):
    return round(100 * r / n, 1)


def test_seed_000_numbers(evidence):
    s = "seed_000_ulcerative_colitis"
    msc, ctl = obs(evidence, s, "msc_response_week12"), obs(evidence, s, "control_response_week12")
    assert (msc.n, msc.responders, msc.week) == (12, 10, 12)
    assert "10 (83.3%) of 12 patients" in msc.quote and "after 12 weeks" in msc.quote
    assert _pct(10, 12) == 83.3
    assert (ctl.n, ctl.responders) == (16, 4) and "4 (25.0%) patients" in ctl.quote
    assert "16 patients" in evidence[s].arms["optimised_infliximab"].quote
    assert "three times every 4 weeks" in evidence[s].arms["msc"].quote
    assert evidence[s].arms["msc"].infusion_weeks == [0, 4, 8]
    switched = obs(evidence, s, "control_switched")
    assert switched.events == 12 == ctl.n - ctl.responders
    assert "12 patients from group 2" in switched.quote


def test_seed_000_reported_statistics_from_the_counts(evidence):
    """RR of non-response 0.222 (0.061-0.812) and Yates chi2 7.146 follow; p = 0.00334 does not."""
    s = "seed_000_ulcerative_colitis"
    table = np.array([[10, 2], [4, 12]])
    rr = (2 / 12) / (12 / 16)
    se = math.sqrt(1 / 2 - 1 / 12 + 1 / 12 - 1 / 16)
    lo, hi = rr * math.exp(-1.959964 * se), rr * math.exp(1.959964 * se)
    chi2_yates, p_yates = stats.chi2_contingency(table, correction=True)[:2]
    chi2_plain, p_plain = stats.chi2_contingency(table, correction=False)[:2]
    p_fisher = stats.fisher_exact(table).pvalue

    ratio = obs(evidence, s, "reported_ratio")
    assert ratio.reproduced and ratio.reported == [0.222, 0.061, 0.812]
    assert "HR-0.222, 95% CI 0.061-0.812" in ratio.quote
    assert [round(rr, 3), round(lo, 3), round(hi, 3)] == ratio.reported
    chi2 = obs(evidence, s, "reported_chi2")
    assert chi2.reproduced and "x2 - 7.146" in chi2.quote
    assert round(chi2_yates, 3) == chi2.reported[0] == 7.146
    p = obs(evidence, s, "reported_p_value")
    assert not p.reproduced and "p=0.00334" in p.quote
    for value in (p_yates, p_plain, p_fisher):
        assert abs(value - 0.00334) > 0.001
    assert round(p_yates, 4) == 0.0075 and round(p_plain, 4) == 0.0023
    assert round(p_fisher, 4) == 0.0063 and round(chi2_plain, 3) == 9.333
    for text in ("0.0075", "0.0023", "0.0063"):
        assert text in p.note


def test_seed_001_numbers(evidence):
    s = "seed_001_juvenile_idiopathic_arthritis"
    assert "Six patients" in evidence[s].arms["msc"].quote
    resp = obs(evidence, s, "fewer_active_joints_week8")
    assert (resp.n, resp.responders, resp.week) == (6, 4, 8)
    assert "Eight weeks after one MSC infusion, 4 patients showed less active joints" in resp.quote
    twice = obs(evidence, s, "infusions_given")
    assert twice.events == 3 and "twice in 3 patients" in twice.quote
    reactions = obs(evidence, s, "infusion_reactions")
    assert (reactions.infusions, reactions.events) == (6 + 3, 0)
    assert "No acute infusion reactions" in reactions.quote
    sae = obs(evidence, s, "serious_adverse_events")
    assert (sae.patients, sae.events, sae.follow_up_weeks) == (6, 1, 52)
    assert "macrophage activation syndrome" in sae.quote
    redose = obs(evidence, s, "redosing_year1")
    assert (redose.fit, redose.n, redose.infusions, redose.responding) == ("msc", 6, [3, 3, 0], 3)
    assert redose.horizon_weeks == 52 and "twice in 3 patients" in redose.quote
    assert "by 3 patients at 1 year" in redose.responding_quote
    assert "maximal two repeated infusions" in evidence[s].arms["msc"].quote
    inactive = obs(evidence, s, "inactive_disease_1y")
    assert (
        inactive.fit is None
        and inactive.responders == 3
        and "by 3 patients at 1 year" in (inactive.quote)
    )


def test_seed_002_numbers(evidence):
    s = "seed_002_systemic_lupus_erythematosus"
    assert (
        obs(evidence, s, "enrolled").n == 81 and "Eighty-one" in obs(evidence, s, "enrolled").quote
    )
    alive = obs(evidence, s, "survival_5y")
    assert (alive.n, alive.events) == (81, 68) and "84% (68/81)" in alive.quote
    assert round(100 * 68 / 81) == 84
    at5 = obs(evidence, s, "remission_at_5y")
    assert (at5.n, at5.responders, at5.fit) == (68, 28, None)
    for text, (r, n, pct) in {
        "22 patients (22/68, 32%)": (22, 68, 32),
        "6 patients (6/68, 9%)": (6, 68, 9),
        "41% (28/68)": (28, 68, 41),
    }.items():
        assert text in at5.quote and round(100 * r / n) == pct
    assert 22 + 6 == 28
    ever = obs(evidence, s, "ever_in_remission")
    assert (ever.n, ever.responders, ever.within_weeks) == (68, 37, 260)
    assert "37 patients had achieved clinical remission (27 in complete remission and 10" in (
        ever.quote
    )
    relapses = obs(evidence, s, "relapses")
    assert (relapses.responders, relapses.relapses) == (37, 9) and "24% (9/37)" in relapses.quote
    assert round(100 * 9 / 37) == 24
    # the counts are consistent: 37 - 9 = 28 still in remission; 27 - 22 + 10 - 6 = 9 relapses
    assert 37 - 9 == 28 and (27 - 22) + (10 - 6) == 9
    assert relapses.follow_up_weeks == 208 and any("208" in a for a in relapses.assumptions)
    # v2: 5-year study, remission reached within the first year; deaths assumed unrelated
    assert (relapses.study_weeks, relapses.remission_within_weeks) == (260, 52)
    assert "5-year" in ever.quote or "5 years" in ever.quote
    assert any("13 deaths" in a for a in relapses.assumptions)


def test_seed_003_numbers(evidence):
    s = "seed_003_ankylosing_spondylitis"
    arm = evidence[s].arms["msc"]
    assert "days 0, 7, 14, and 21" in arm.quote
    assert arm.infusion_weeks == [d / 7 for d in (0, 7, 14, 21)]
    resp = obs(evidence, s, "asas20_week4")
    assert (resp.n, resp.responders, resp.week) == (31, 24, 4)
    assert "Thirty-one patients" in resp.quote and "77.4% at the fourth week" in resp.quote
    # 24 is the only count out of 31 that rounds to 77.4%
    assert [r for r in range(32) if _pct(r, 31) == 77.4] == [24]
    duration = obs(evidence, s, "asas20_duration")
    assert (duration.responders, duration.mean_weeks) == (24, 7.1)
    # censored at 16 weeks: responders at week 4 of a 20-week trial
    assert duration.censored_at_weeks == 20 - resp.week
    assert "response duration was 7.1 weeks" in duration.quote
    asdas = obs(evidence, s, "asdas_crp")
    assert asdas.values == {"baseline": [3.6, 0.6], "week_4": [2.4, 0.5], "week_20": [3.2, 0.8]}
    assert "3.6 ± 0.6 to 2.4 ± 0.5" in asdas.quote and "3.2 ± 0.8" in asdas.quote
    reactions = obs(evidence, s, "infusion_reactions")
    assert (reactions.infusions, reactions.events) == (31 * 4, 0)
    assert reactions.quote == "No adverse effects were noted."
    sae = obs(evidence, s, "serious_adverse_events")
    assert (sae.patients, sae.events, sae.follow_up_weeks) == (31, 0, 20)
    assert "20-week" in evidence[s].title


def test_seed_004_numbers(evidence):
    s = "seed_004_rheumatoid_arthritis"
    assert "monthly 3 dose" in evidence[s].arms["msc"].quote
    assert evidence[s].arms["msc"].infusion_weeks == [0, 4, 8]
    resp = obs(evidence, s, "acr20_week16")
    assert (resp.n, resp.responders, resp.week) == (6, 4, 16)
    assert "Four patients met ACR20 at week 16" in resp.quote
    assert "Six patients" in obs(evidence, s, "patients").quote
    sae = obs(evidence, s, "serious_adverse_events")
    assert (sae.patients, sae.events, sae.follow_up_weeks) == (6, 0, 24)
    assert "no SAEs reported" in sae.quote
    assert not [o for o in evidence[s].observations if o.kind == "infusion_reactions"]


def test_historical_placebo_table(evidence):
    ev = evidence["baeten2013_as_placebo"]
    pairs = [(o.n, o.responders) for o in ev.observations]
    assert pairs == [(107, 23), (44, 12), (51, 19), (39, 9), (139, 39), (20, 6), (78, 9), (35, 10)]
    quoted = re.findall(r"(\d+)/(\d+)", ev.observations[0].quote)
    assert [(int(n), int(r)) for n, r in quoted] == pairs
    assert {o.week for o in ev.observations} == {6} and {o.fit for o in ev.observations} == {
        "as_placebo"
    }


# -- bad files ---------------------------------------------------------------------------------

GOOD = """\
study: bad
title: t
citation: c
source_file: seeds/x.txt
indication: rheumatoid_arthritis
design: d
arms:
  msc:
    description: x
    infusion_weeks: [0, 4, 8]
observations:
  - id: r16
    kind: responders
    arm: msc
    fit: msc
    n: 6
    responders: 4
    week: 16
    endpoint: ACR20
    quote: q
"""


def write(tmp_path, text, name="bad"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_good_template_loads(tmp_path):
    ev = load_evidence(write(tmp_path, GOOD))
    assert ev.observations[0].responders == 4 and ev.path == tmp_path / "bad.yaml"


@pytest.mark.parametrize(
    ("old", "new", "line", "path", "message"),
    [
        ("    responders: 4", "    responders: 7", 17, "observations[0].responders", "more than n"),
        ("    kind: responders", "    kind: respondrs", 13, "observations[0].kind", "kind"),
        ("    week: 16", "    week: 16\n    weeks: 3", 19, "observations[0].weeks", "unknown"),
        ("[0, 4, 8]", "[0, 8, 4]", 10, "arms.msc.infusion_weeks", "weeks must increase"),
        ("    arm: msc", "    arm: placebo", 14, "observations[0].arm", "unknown arm"),
        ("    fit: msc", "    fit: mcs", 15, "observations[0].fit", "msc"),
        ("    n: 6", "    n: -6", 16, "observations[0].n", "greater than 0"),
        ("indication: rheumatoid_arthritis", "indication: gout", 5, "indication", "rheumatoid"),
        ("    quote: q\n", "", 12, "observations[0].quote", "required"),
    ],
)
def test_bad_file_names_file_line_and_field(tmp_path, old, new, line, path, message):
    assert old in GOOD
    file = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ScenarioError) as info:
        load_evidence(file)
    err = info.value
    assert err.file == str(file)
    assert err.path == path
    assert err.line == line
    assert message in err.message
    assert f"{file}:{line}: {path}:" in str(err)


def test_study_must_match_file_name(tmp_path):
    with pytest.raises(ScenarioError, match="must equal the file name") as info:
        load_evidence(write(tmp_path, GOOD, name="other"))
    assert info.value.line == 1 and info.value.path == "study"


def test_cross_field_rules(tmp_path):
    text = GOOD.replace("    kind: responders", "    kind: count").replace(
        "    responders: 4\n    week: 16\n    endpoint: ACR20\n",
        "    events: 4\n    description: x\n",
    )
    with pytest.raises(ScenarioError, match="cannot use a 'count'") as info:
        load_evidence(write(tmp_path, text))
    assert info.value.path == "observations[0].fit" and info.value.line == 15
    dup = GOOD + GOOD[GOOD.index("  - id: r16") :]
    with pytest.raises(ScenarioError, match="duplicate observation id") as info:
        load_evidence(write(tmp_path, dup))
    assert info.value.path == "observations[1].id" and info.value.line == 21


def test_unsafe_yaml_is_refused(tmp_path):
    file = write(tmp_path, GOOD.replace("title: t", "title: !!python/object/apply:os.system [ls]"))
    with pytest.raises(ScenarioError) as info:
        load_evidence(file)
    assert info.value.file == str(file) and info.value.line == 2


def test_load_all_on_an_empty_directory(tmp_path):
    with pytest.raises(ScenarioError, match="no evidence files"):
        load_all(tmp_path)


def test_redosing_and_censoring_rules(tmp_path):
    """New v2 observation fields are validated with file, line and field."""
    redose = GOOD.replace("    kind: responders", "    kind: redosing").replace(
        "    responders: 4\n    week: 16\n    endpoint: ACR20\n",
        "    infusions: [3, 2, 0]\n    responding: 3\n    horizon_weeks: 52\n"
        "    endpoint: x\n    responding_quote: r\n",
    )
    with pytest.raises(ScenarioError, match="summing to n = 6") as info:
        load_evidence(write(tmp_path, redose))
    assert info.value.path == "observations[0].infusions"
    assert load_evidence(write(tmp_path, redose.replace("[3, 2, 0]", "[3, 3, 0]"))).observations[
        0
    ].infusions == [3, 3, 0]
    duration = GOOD.replace("    kind: responders", "    kind: mean_duration").replace(
        "    n: 6\n    responders: 4\n    week: 16\n    endpoint: ACR20\n",
        "    responders: 24\n    mean_weeks: 17.1\n    censored_at_weeks: 16\n",
    )
    with pytest.raises(ScenarioError, match="cannot exceed the cut-off") as info:
        load_evidence(write(tmp_path, duration))
    assert info.value.path == "observations[0].censored_at_weeks"
