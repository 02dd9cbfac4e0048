"""Plain words that summary.json carries (``design`` entries: the endpoint in one sentence, the
test's and the spending function's names), shared with the report's :mod:`simtrial.narrative`.

Kept apart from the narrative so that a run without a report (``--no-report``) does not load
the report's modules.
"""

from __future__ import annotations

from simtrial.scenario import Endpoint

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
