"""The HTML report (simtrial.report.html): well-formed, self-contained, numbers are the JSON's."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from simtrial.cli.main import main
from simtrial.engines.results import RunResult, VariantResult
from simtrial.report import html as report
from simtrial.scenario.load import load_scenario
from simtrial.scenario.parameters import PriorParam
from tests.helpers import BASE, scenario
from tests.test_plots import point

ROOT = Path(__file__).resolve().parents[1]
AS = ROOT / "scenarios" / "as-schedules.yaml"
PNG = b"\x89PNG\r\n\x1a\n"
VOID = {"meta", "img", "br", "wbr", "col", "hr", "link", "input"}
SECTIONS = {"overview", "scenario", "assumptions", "comparison", "plots", "sample-size"}


class Page(HTMLParser):
    """Checks nesting while parsing; collects ids, images, links and the comparison table."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.urls: list[str] = []
        self.images: list[str] = []
        self.cells: list[dict[str, str]] = []  # comparison cells with data-value
        self.header: list[str] = []
        self.in_comparison = self.in_header = False
        self.rows = 0
        self.cell: dict[str, str] | None = None
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("src", "href"):
            if key in a:
                self.urls.append(a[key])
        if tag == "img":
            self.images.append(a["src"])
        if tag == "table" and "comparison" in (a.get("class") or ""):
            self.in_comparison = True
        if self.in_comparison and tag == "tr":
            self.rows += 1
            self.in_header = self.rows == 1
        if self.in_comparison and tag == "td" and "data-value" in a:
            self.cell = dict(a, text="")

    def handle_endtag(self, tag):
        assert tag not in VOID, f"end tag for void element {tag}"
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()
        if tag == "table":
            self.in_comparison = False
        if tag == "td" and self.cell is not None:
            self.cells.append(self.cell)
            self.cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self.cell is not None:
            self.cell["text"] += data
        if self.in_comparison and self.in_header and self.stack[-1] == "th":
            self.header.append(data)


@pytest.fixture(scope="module")
def as_run(tmp_path_factory):
    """`simtrial run scenarios/as-schedules.yaml` with few simulations."""
    out = tmp_path_factory.mktemp("as")
    assert main(["run", str(AS), "--out", str(out), "--simulations", "300", "-q"]) == 0
    text = (out / "report.html").read_text(encoding="utf-8")
    return out, text, Page(text), json.loads((out / "summary.json").read_text())


def test_report_is_well_formed_and_has_the_sections(as_run):
    _, text, page, _ = as_run
    assert text.startswith("<!DOCTYPE html>")
    assert page.stack == []  # every element closed, in order
    assert SECTIONS | {"provenance"} <= page.ids


def test_report_is_self_contained(as_run):
    _, text, page, _ = as_run
    for url in page.urls:
        assert url.startswith(("#", "data:image/png;base64,")), url
    assert "<script" not in text and "@import" not in text and "url(" not in text
    assert len(page.images) == 3  # power, response, burden (no interims: no stopping plot)
    for src in page.images:
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)


def test_comparison_has_one_column_per_variant(as_run):
    _, _, page, summary = as_run
    assert page.header == ["measure", *summary["variants"]]


def test_table_numbers_are_summary_json(as_run):
    _, _, page, summary = as_run
    seen = set()
    for cell in page.cells:
        variant, n, key = cell["data-variant"], int(cell["data-n"]), cell["data-key"]
        (pt,) = [p for p in summary["variants"][variant]["points"] if p["n_total"] == n]
        head, _, arm = key.partition(".")
        expected = pt[head][arm] if arm else pt[head]
        assert float(cell["data-value"]) == expected, (variant, n, key)
        shown = float(cell["text"].split("±")[0])
        digits = len(cell["text"].split("±")[0].strip().split(".")[1])
        assert shown == pytest.approx(round(expected, digits), abs=10**-digits / 2), cell
        if "±" in cell["text"]:
            se = pt.get(f"{key}_se")
            assert float(cell["text"].split("±")[1]) == pytest.approx(se, abs=5e-4)
        seen.add((variant, n, key))
    for variant, v in summary["variants"].items():
        for pt in v["points"]:
            for key in ("power", "type1_error", "assurance", "endpoint_probability.msc"):
                assert (variant, pt["n_total"], key) in seen


def test_assumptions_show_priors_and_their_pilots(as_run):
    _, text, page, _ = as_run
    words = " ".join(page.text)
    assert "{prior: msc/induction[ankylosing_spondylitis]}" in words
    assert "seed_003_ankylosing_spondylitis" in words
    assert "reached 77.4% at the fourth week" in words  # the verbatim sentence
    assert "24/31 responders" in words


def test_provenance_and_plain_words(as_run):
    _, _, page, summary = as_run
    words = " ".join(page.text)
    for item in (
        str(summary["seed"]),
        summary["simtrial_version"],
        "vectorized",
        "UTC",
        "simtrial run",
        "--simulations 300",
        "Fisher's exact test",
        "durable response",
    ):
        assert item in words, item


def test_files_written_atomically_and_listed(tmp_path, capsys):
    out = tmp_path / "r"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**BASE, "evaluate": {"n_total": [20]}}))
    assert main(["run", str(path), "--out", str(out), "--simulations", "100"]) == 0
    printed = capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "burden.png",
        "points.csv",
        "power.png",
        "report.html",
        "response.png",
        "summary.json",
    ]  # no temporary file left
    for name in ("report.html", "power.png"):
        assert name in printed.replace("\n", "")
    assert stat.S_IMODE((out / "report.html").stat().st_mode) == 0o644


def test_no_report_option(tmp_path):
    out = tmp_path / "r"
    code = main(["run", str(AS), "--out", str(out), "--simulations", "50", "-q", "--no-report"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["points.csv", "summary.json"]


def test_everything_is_escaped(tmp_path):
    s = scenario(
        {
            "description": "<script>alert('x')</script> & <b>bold</b>",
            "evaluate": {"n_total": [20]},
        }
    )
    result = RunResult(
        "test",
        1,
        1000,
        "vectorized",
        {"base": VariantResult("base", [point(20, 0.3)])},
        version="<i>v</i>",
    )
    text = report.report_html(result, s, images={}, command="simtrial run '<x>'")
    page = Page(text)
    assert page.stack == []
    assert "<script" not in text and "<b>bold" not in text and "<i>v" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold" in text
    assert "simtrial run &#x27;&lt;x&gt;&#x27;" in text


def test_sample_size_section(tmp_path):
    size = {
        "target": "power",
        "goal": 0.8,
        "n_total": 120,
        "n_per_arm": {"control": 60, "msc": 60},
        "achieved": 0.812,
        "se": 0.004,
        "curve": [{"n_total": 120, "achieved": 0.812, "se": 0.004}],
    }
    s = scenario({"evaluate": {"n_total": [40]}})
    result = RunResult(
        "test",
        1,
        1000,
        "vectorized",
        {"base": VariantResult("base", [point(40, 0.3)], sample_size=size)},
    )
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    path = report.write_report(result, s, tmp_path, images={}, created=created)
    text = path.read_text()
    assert "data-key='sample_size.n_total' data-value='120'" in text
    assert "power 0.8 needs n_total = 120" in text
    assert "2026-01-02 03:04:05 UTC" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_report_write_failure_keeps_old_file(tmp_path, monkeypatch):
    s = scenario({"evaluate": {"n_total": [20]}})
    result = RunResult(
        "test", 1, 10, "vectorized", {"base": VariantResult("base", [point(20, 0.3)])}
    )
    (tmp_path / "report.html").write_text("old")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        report.write_report(result, s, tmp_path, images={})
    assert (tmp_path / "report.html").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


@pytest.mark.parametrize(
    ("ref", "studies", "facts"),
    [
        ("msc/induction[rheumatoid_arthritis]", ["seed_004_rheumatoid_arthritis"], ["4/6"]),
        (
            "msc/induction_new",
            [
                "seed_000_ulcerative_colitis",
                "seed_001_juvenile_idiopathic_arthritis",
                "seed_002_systemic_lupus_erythematosus",
                "seed_003_ankylosing_spondylitis",
                "seed_004_rheumatoid_arthritis",
            ],
            ["10/12", "24/31"],
        ),
        ("as_placebo/theta_new", ["baeten2013_as_placebo"], ["23/107", "10/35"]),
        ("as_placebo/theta[study_2]", ["baeten2013_as_placebo"], ["12/44"]),
        ("uc_control/response", ["seed_000_ulcerative_colitis"], ["4/16"]),
        ("msc/ae_per_infusion", ["seed_003_ankylosing_spondylitis"], ["0 infusion reactions"]),
    ],
)
def test_prior_evidence_names_the_pilots(ref, studies, facts):
    fit, _, rest = ref.partition("/")
    var, _, index = rest.partition("[")
    text = report.prior_evidence(PriorParam(fit, var, index.rstrip("]") or None))
    for study in studies:
        assert study in text
    for fact in facts:
        assert fact in text
    if ref == "as_placebo/theta[study_2]":
        assert "23/107" not in text  # only that study
    assert Page(text).stack == []


def test_header_comment_and_question():
    notes = report.header_comment("# Title\n#\n# Question: which one\n# is best?\nname: x\n# no")
    assert notes == "Title\n\nQuestion: which one\nis best?"
    assert report._question(notes) == "Which one is best?"


def test_real_scenarios_render():
    """Every shipped scenario's report builds (with a hand-made result: no simulation)."""
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        s = load_scenario(path)
        variants = {}
        for name, sc in s.variants.items():
            arms = list(sc.arms)
            pts = [
                point(
                    n,
                    0.5,
                    n_per_arm=sc.n_per_arm(n),
                    endpoint_probability=dict.fromkeys(arms, 0.3),
                    dropout_fraction=dict.fromkeys(arms, 0.05),
                )
                for n in sc.evaluate.n_total
            ]
            variants[name] = VariantResult(name, pts)
        result = RunResult(s.name, 1, 10, "vectorized", variants)
        page = Page(report.report_html(result, s, images={}))
        assert page.stack == [] and SECTIONS <= page.ids, path


def test_headline_says_direction_values_and_how_type_i_is_judged(as_run):
    """The result paragraph read by someone who never saw the YAML: whose favour power counts,
    the endpoint shares to 3 decimals at the point values (0.076, not the written 0.08), and
    the rates and directions the type I error is judged at."""
    _, _, page, summary = as_run
    text = " ".join("".join(page.text).split())
    assert "the chance of a significant result in msc's favour" in text
    largest = max(p["n_total"] for p in summary["variants"]["monthly_x6"]["points"])
    (at,) = [p for p in summary["variants"]["monthly_x6"]["points"] if p["n_total"] == largest]
    share = f"{at['endpoint_probability']['msc']:.3f} with monthly_x6"
    assert "Share of patients meeting the endpoint, at the same point values: placebo" in text
    assert share in text
    assert (
        "The type I error — a significant result in either direction when msc has placebo's "
        "endpoint probability at its point value — is at most" in text
    )
    assert "over the variants and sizes." in text
    assert "… in either direction" in text  # two-sided: the row is kept
    assert (
        "Powerchance the trial succeeds — a significant result in the treatment's favour — with "
        "every parameter at its point value" in text
    )


def test_one_sided_report_hides_either_direction_and_names_shown_better():
    """as-mams is one-sided: 'either direction' would repeat power, so it is not a row; the
    per-arm power rows say 'shown better' like the selection section; one variant: the
    assurance sentence does not name the variant 'base'."""
    from simtrial.planning.power import run

    s = load_scenario(ROOT / "scenarios" / "as-mams.yaml")
    result = run(s, simulations=60)
    page = Page(report.report_html(result, s, images={}))
    text = " ".join("".join(page.text).split())
    assert "… in either direction" not in text
    assert {c["data-key"] for c in page.cells} >= {"power", "power_per_arm.monthly_x6"}
    assert "power_any_direction" not in {c["data-key"] for c in page.cells}
    assert "Shown better, monthly_x6" in text and "Power, monthly_x6" not in text
    assert "the chance of a significant result in some treatment arm's favour" in text
    assert "(assurance): base" not in text
    assert "a significant result in some treatment arm's favour when every treatment arm" in text
    (last,) = [p for p in result.variants["base"].points if p.n_total == 560]
    shown = ", ".join(f"{t} {v:.3f}" for t, v in last.extra["power_per_arm"].items())
    assert f"Shown better: {shown}." in text  # which arm the power comes from


def test_bayesian_headline_states_its_type_i_error_and_points_to_the_curve():
    """The headline of a Bayesian design said nothing about type I error."""
    s = load_scenario(ROOT / "scenarios" / "ra-phase2-bayes.yaml")
    arms = list(s.base.arms)
    pts = [
        point(n, 0.5, n_per_arm=s.base.n_per_arm(n), type1_error=0.004 + n / 1e5,
              type1_error_se=0.001, endpoint_probability=dict.fromkeys(arms, 0.3),
              dropout_fraction=dict.fromkeys(arms, 0.05),
              stopped_early={"efficacy": 0.0, "futility": 0.1, "safety": 0.0, "harm": 0.0})
        for n in s.base.evaluate.n_total
    ]  # fmt: skip
    result = RunResult(s.name, 1, 10, "vectorized", {"base": VariantResult("base", pts)})
    page = Page(report.report_html(result, s, images={}))
    assert page.header == ["measure", "result"]  # no variants in the file: not "base"
    text = " ".join("".join(page.text).split())
    assert "Stopped early: safety, at the assumed SAE rate" in text
    assert "Stopped early: harm (control better)" in text
    assert (
        "The type I error — success in msc's favour when msc has placebo's endpoint probability "
        "at its point value — is at most 0.006 ± 0.001 over the sizes; at other true control "
        "rates see “Type I error across control rates”." in text
    )


def test_arm_given_directly_states_its_probability():
    """'placebo: probability of meeting the endpoint given directly' did not say which one."""
    from simtrial.report.narrative import describe_arm

    base = load_scenario(AS).base
    assert describe_arm("placebo", base) == (
        "placebo: probability of meeting the endpoint given directly, 0.08 (for patients still "
        "in the study then)"
    )
    bayes = load_scenario(ROOT / "scenarios" / "ra-phase2-bayes.yaml").base
    assert describe_arm("placebo", bayes).startswith(
        "placebo: probability of meeting the endpoint given directly, "
        "{prior: as_placebo/theta_new}, point value 0.2584 (mean)"
    )


def test_plot_captions_say_direction_and_point_values():
    """'at the assumed means' was wrong for a parameter whose point value is its median, and
    the power caption did not say in whose favour."""
    assert "significant result in the treatment's favour" in report.CAPTIONS["power.png"]
    assert "point value" in report.CAPTIONS["power.png"]
    assert "assumed means" not in report.CAPTIONS["response.png"]
    assert "the median when the mean is no typical value" in report.CAPTIONS["response.png"]
    assert (
        "at the assumed effects (every parameter at its point value"
        in (report.CAPTIONS["stopping.png"])
    )
