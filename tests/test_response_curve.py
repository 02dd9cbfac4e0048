"""The one π(t) of :mod:`simtrial.model.curve`: NumPy and PyTensor agree, both match the
DESIGN §2 closed form written out here independently, the wrappers of :mod:`simtrial.model` and
:mod:`simtrial.priors` are the same function, and the committed ``msc`` / ``msc_v1`` fits keep the
log-probability they were sampled with."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

from simtrial.model import curve as response_curve
from simtrial.model.curve import (
    NUMPY,
    durable_factor,
    ever_probability,
    induction_times,
    response_probability,
)

SCHEDULES = {
    "single": [0.0],
    "weekly x4": [0.0, 1.0, 2.0, 3.0],
    "monthly x6": [0.0, 4.0, 8.0, 12.0, 16.0, 20.0],
    "irregular": [0.0, 2.5, 7.0, 19.0],
}
ONSETS = [0.0, 1.0, 2.5, 4.0]
Q = [0.05, 0.4, 0.9, 1.0]
LAM = [0.0, 0.013, 0.2]


def _weeks(schedule: list[float], onset: float) -> list[float]:
    """Assessment weeks: 0, every induction time exactly and an instant before it, half a week
    after the last, one year (few points: the PyTensor graph of the grid compiles slowly)."""
    out = {0.0, schedule[-1] + onset + 0.5, 52.0}
    for s in schedule:
        out.update({s + onset, s + onset - 1e-9})
    return sorted(w for w in out if w >= 0)


def closed_form(t: float, schedule: list[float], q: float, lam: float, onset: float) -> float:
    """DESIGN §2 unrolled: with ``e_1 < ... < e_m <= t`` the inductions by ``t``,

    π(t) = q · Σ_j (1 − q)^(m − j) · exp(−λ (t − e_j)).

    (π just after e_j is π_j = π_{j−1}·exp(−λ(e_j − e_{j−1}))·(1 − q) + q with π_0 = 0; the
    linear recursion sums to this.) No loss: 1 − (1 − q)^m; one induction: q·exp(−λ(t − e)).
    """
    e = [s + onset for s in schedule if s + onset <= t]
    m = len(e)
    return q * sum((1 - q) ** (m - j) * math.exp(-lam * (t - e[j - 1])) for j in range(1, m + 1))


GRID = [
    (name, onset, t)
    for name, schedule in SCHEDULES.items()
    for onset in ONSETS
    for t in _weeks(schedule, onset)
]
PARAMS = np.array(list(itertools.product(Q, LAM)))  # (16, 2): every (q, λ)


def test_closed_form_special_cases():
    """The reference itself against the two textbook cases (guards the test, not the code)."""
    assert closed_form(30, [0, 4, 8], 0.3, 0.0, 2) == pytest.approx(1 - 0.7**3, abs=1e-15)
    assert closed_form(30, [0], 0.3, 0.1, 2) == pytest.approx(0.3 * math.exp(-2.8), abs=1e-15)
    assert closed_form(1.9, [0], 0.3, 0.1, 2) == 0.0


def test_numpy_matches_the_closed_form_on_the_grid():
    worst = 0.0
    for name, onset, t in GRID:
        got = response_probability(
            t, SCHEDULES[name], PARAMS[:, 0], PARAMS[:, 1], onset_weeks=onset
        )
        ref = [closed_form(t, SCHEDULES[name], q, lam, onset) for q, lam in PARAMS]
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12, err_msg=f"{name} {onset} {t}")
        worst = max(worst, float(np.max(np.abs(got - ref))))
    assert worst < 1e-12


def test_an_induction_at_the_assessment_week_counts():
    """``e_k <= t``: at t = e the jump has happened, an instant before it has not."""
    q, lam = 0.5, 0.1
    at = float(response_probability(6.0, [0, 4], q, lam, onset_weeks=2.0))
    before = float(response_probability(6.0 - 1e-9, [0, 4], q, lam, onset_weeks=2.0))
    assert at == pytest.approx(q * math.exp(-0.4) * (1 - q) + q, abs=1e-15)
    assert before == pytest.approx(q * math.exp(-lam * (4.0 - 1e-9)), abs=1e-15)
    assert induction_times([0, 4], 6.0, onset_weeks=2.0) == [2.0, 6.0]


def test_onset_is_required_and_schedules_must_increase():
    with pytest.raises(TypeError):
        response_probability(12.0, [0], 0.5, 0.1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        response_probability(12.0, [0], 0.5, 0.1, 2.0)  # type: ignore[misc]
    with pytest.raises(ValueError, match="increase"):
        response_probability(12.0, [4, 0], 0.5, 0.1, onset_weeks=0.0)


def test_ceiling_durable_and_ever():
    """c·π, the durable factor exp(−λ(W2 − W1)) and c·(1 − (1 − q)^k) against the closed form."""
    w, q, lam, c = [0.0, 4.0, 8.0], 0.4, 0.05, 0.7
    pi = closed_form(12, w, q, lam, 2.0)
    got = response_probability(12.0, w, q, lam, onset_weeks=2.0, ceiling=c)
    assert float(got) == pytest.approx(c * pi, abs=1e-15)
    assert float(durable_factor(lam, 12.0, 24.0)) == pytest.approx(math.exp(-0.6), abs=1e-15)
    assert ever_probability(q, w, 9.9, onset_weeks=2.0, ceiling=c) == pytest.approx(
        c * (1 - 0.6**2), abs=1e-15
    )


def test_the_wrappers_are_the_same_function():
    """simtrial.model (NumPy, onset default 0) and simtrial.priors.likelihood (NumPy draws) give
    the core's numbers bit for bit; their historical argument orders are kept."""
    from simtrial.model.response import response_probability as model_pi
    from simtrial.priors.likelihood import ever_probability as lik_ever
    from simtrial.priors.likelihood import response_probability as lik_pi

    for name, onset, t in GRID[::7]:
        w = SCHEDULES[name]
        core = response_probability(t, w, PARAMS[:, 0], PARAMS[:, 1], onset_weeks=onset)
        np.testing.assert_array_equal(model_pi(t, w, PARAMS[:, 0], PARAMS[:, 1], onset), core)
        c = np.full(len(PARAMS), 0.8)
        np.testing.assert_array_equal(
            lik_pi(PARAMS[:, 0], PARAMS[:, 1], c, w, t, onset, NUMPY),
            response_probability(t, w, PARAMS[:, 0], PARAMS[:, 1], onset_weeks=onset, ceiling=c),
        )
        np.testing.assert_array_equal(
            lik_ever(PARAMS[:, 0], c, w, t, onset),
            ever_probability(PARAMS[:, 0], w, t, onset_weeks=onset, ceiling=c),
        )
    assert float(model_pi(12, [0, 4, 8], 0.5, 0.0)) == 0.875  # onset 0 by default there


# -- PyTensor ---------------------------------------------------------------------------------


def _compile_grid(grid: list[tuple[str, float, float]], mode: object):
    """c·π at each grid point as one compiled PyTensor function of (q, λ, c) vectors."""
    pytensor = pytest.importorskip("pytensor")
    import pytensor.tensor as pt

    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    q, lam, c = pt.dvector("q"), pt.dvector("lam"), pt.dvector("c")
    ops = response_curve.pytensor_ops()
    outs = pt.stack(
        [
            response_probability(t, SCHEDULES[name], q, lam, onset_weeks=onset, ceiling=c, ops=ops)
            for name, onset, t in grid
        ]
    )
    return pytensor.function([q, lam, c], outs, mode=mode)


# The whole grid with PyTensor's Python linker and no graph rewrites (the graph as built, each op
# on NumPy; rewriting hundreds of outputs would take half a minute); a subset in the default mode
# PyMC samples with (rewrites, fused C kernels; a cold C cache compiles for a while, so only one
# schedule and onset).
C_GRID = [(name, onset, t) for name, onset, t in GRID if name == "irregular" and onset == 2.5]


@pytest.mark.parametrize(("grid", "mode"), [(GRID, "py"), (C_GRID, None)])
def test_pytensor_matches_numpy_and_the_closed_form(grid, mode):
    pytest.importorskip("pytensor")
    from pytensor.compile.mode import Mode

    f = _compile_grid(grid, Mode(linker="py", optimizer=None) if mode == "py" else None)
    c = np.linspace(0.6, 1.0, len(PARAMS))
    got = f(PARAMS[:, 0], PARAMS[:, 1], c)
    assert got.shape == (len(grid), len(PARAMS))
    for i, (name, onset, t) in enumerate(grid):
        w = SCHEDULES[name]
        numpy = response_probability(t, w, PARAMS[:, 0], PARAMS[:, 1], onset_weeks=onset, ceiling=c)
        ref = c * np.array([closed_form(t, w, q, lam, onset) for q, lam in PARAMS])
        np.testing.assert_allclose(got[i], numpy, rtol=0, atol=1e-12, err_msg=f"{name} {t}")
        np.testing.assert_allclose(got[i], ref, rtol=0, atol=1e-12, err_msg=f"{name} {t}")


def test_priors_models_wrapper_is_the_pytensor_core():
    pytest.importorskip("pymc")
    from simtrial.priors.models import ONSET_WEEKS
    from simtrial.priors.models import response_probability as models_pi

    w, q, lam = [0.0, 4.0, 8.0], 0.45, 0.03
    got = float(models_pi(q, lam, w, 12.0).eval())  # msc_v1's onset 2, ceiling 1 by default
    assert ONSET_WEEKS == 2.0
    assert got == pytest.approx(closed_form(12.0, w, q, lam, 2.0), abs=1e-12)


# -- the committed fits keep their log-probability --------------------------------------------

# log p(θ, data) (PyMC's model log-probability without transforms, i.e. on the constrained
# scale: priors + likelihood, including msc's onset-marginalised potential) at posterior draws
# (chain, draw) of the committed priors/fitted/<fit>.nc. Computed at commit 775e49e, with the
# implementations of π before this module existed (simtrial/priors/models.py and
# simtrial/priors/likelihood.py each had their own), by _logp_at_draws below; the default C
# mode gave the same numbers to 1e-14.
COMMITTED_LOGP = {
    "msc": {(0, 0): -52.11791620892987, (1, 417): -48.27709011810104, (3, 999): -45.23481799879204},
    "msc_v1": {
        (0, 0): -34.08995445930018,
        (1, 417): -38.804342132584345,
        (3, 999): -44.29460970031423,
    },
}


def _logp_at_draws(fit: str, draws: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
    """The fit's PyMC model log-probability at committed posterior draws.

    Python-mode PyTensor (``FAST_COMPILE``): no C compilation, a few seconds per model.
    """
    import xarray as xr
    from pymc.model.transform.conditioning import remove_value_transforms

    from simtrial.priors.evidence import load_all
    from simtrial.priors.models import MODELS
    from simtrial.priors.store import fitted_dir

    model = remove_value_transforms(MODELS[fit](load_all()))
    f = model.compile_logp(jacobian=False, mode="FAST_COMPILE")
    with xr.open_dataset(fitted_dir() / f"{fit}.nc", group="posterior", engine="h5netcdf") as ds:
        ds = ds.load()
    out = {}
    for chain, draw in draws:
        point = {
            rv.name: np.asarray(
                ds[rv.name].values[chain, draw], dtype=model.rvs_to_values[rv].dtype
            )
            for rv in model.free_RVs
        }
        out[(chain, draw)] = float(f(point))
    return out


@pytest.mark.parametrize("fit", ["msc", "msc_v1"])
def test_committed_fits_keep_their_log_probability(fit):
    """The same number to 1e-9 after π moved into simtrial.model.curve: the committed draws
    are still draws of the model the code builds."""
    pytest.importorskip("pymc")
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    got = _logp_at_draws(fit, list(COMMITTED_LOGP[fit]))
    for key, want in COMMITTED_LOGP[fit].items():
        assert got[key] == pytest.approx(want, rel=0, abs=1e-9), key


if __name__ == "__main__":  # print the reference numbers (run at the reference commit)
    for fit in COMMITTED_LOGP:
        print(fit, _logp_at_draws(fit, list(COMMITTED_LOGP[fit])))
