"""Plain words for the scenario schema's names: tests, spending functions, the endpoint.

Shared by the design summary (:mod:`simtrial.planning.design_summary`, plain data written to
summary.json) and the report's narrative (:mod:`simtrial.report.narrative`), so both say the
same thing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simtrial.scenario.schema import Endpoint

TESTS = {
    "fisher_exact": "Fisher's exact test",
    "chi2": "Pearson's chi-squared test",
    "chi2_yates": "chi-squared test with Yates' correction",
    "z_pooled": "pooled two-proportion z test",
    "bayes_posterior": "Bayesian rule on the posterior probability",
    "logrank": "log-rank test",
}

SPENDING = {
    "obrien_fleming": "O'Brien–Fleming-type spending",
    "pocock": "Pocock-type spending",
    "none": "none before the final analysis",
}


def weeks_text(weeks: list[float]) -> str:
    return ", ".join(f"{w:g}" for w in weeks)


def describe_endpoint(endpoint: Endpoint) -> str:
    """The endpoint in one sentence."""
    if endpoint.kind == "responder":
        text = f"responding at week {endpoint.week:g}"
    elif endpoint.kind == "durable_responder":
        text = (
            f"durable response: responding at week {endpoint.from_week:g} and still responding, "
            f"without a loss in between, at week {endpoint.to_week:g}"
        )
    else:
        return (
            f"time from the first response to loss of response, followed up to week "
            f"{endpoint.follow_up_weeks:g} (censored at dropout)"
        )
    if endpoint.missing == "non_responder":
        text += "; patients who drop out before then count as not meeting it"
    else:
        text += "; patients who drop out before then are left out of the analysis"
    return text
