"""The PyMC-free reader of the committed fits (the interface the simulation core uses)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from simtrial.errors import PriorError
from simtrial.priors import store
from simtrial.priors.evidence import INDICATIONS

FITTED = Path(__file__).resolve().parents[2] / "priors" / "fitted"


def nc_posterior(fit: str) -> xr.Dataset:
    with xr.open_dataset(FITTED / f"{fit}.nc", group="posterior", engine="h5netcdf") as ds:
        return ds.load()


def test_fitted_dir_default_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv("SIMTRIAL_PRIORS_DIR", raising=False)
    assert store.fitted_dir() == FITTED
    monkeypatch.setenv("SIMTRIAL_PRIORS_DIR", str(tmp_path))
    assert store.fitted_dir() == tmp_path
    assert store.available_fits() == []
    shutil.copy(FITTED / "uc_control.nc", tmp_path)
    assert store.available_fits() == ["uc_control"]
    # without the JSON summary, describe and the mean come from the NetCDF file
    assert store.describe("uc_control") == {"response": {"dims": [], "coords": {}}}
    assert store.posterior_mean("uc_control", "response") == pytest.approx(
        float(nc_posterior("uc_control")["response"].mean()), rel=1e-12
    )


def test_available_fits():
    assert store.available_fits() == ["as_placebo", "msc", "msc_v1", "uc_control"]


def test_describe_msc():
    desc = store.describe("msc")
    for var in ("induction", "loss_per_week"):
        assert desc[var] == {"dims": ["indication"], "coords": {"indication": list(INDICATIONS)}}
    for var in ("induction_new", "loss_per_week_new", "ae_per_infusion", "sae_per_year"):
        assert desc[var] == {"dims": [], "coords": {}}
    assert store.describe("as_placebo")["theta"]["coords"]["study"] == [
        f"study_{i}" for i in range(1, 9)
    ]
    # the JSON-based description equals the one read from the NetCDF file
    post = nc_posterior("msc")
    for var, info in desc.items():
        assert list(post[var].dims[2:]) == info["dims"]


def test_missing_fit_message(tmp_path):
    with pytest.raises(PriorError) as info:
        store.describe("nope")
    msg = str(info.value)
    assert "no fitted prior 'nope' in" in msg
    assert "(available: as_placebo, msc, msc_v1, uc_control)" in msg
    assert "run `simtrial priors fit nope`" in msg
    with pytest.raises(PriorError, match=r"available: none"):
        store.describe("msc", directory=tmp_path)


def test_resolve_index():
    assert store.resolve_index("msc", "induction", "rheumatoid_arthritis") == 4
    assert store.resolve_index("msc", "induction", "0") == 0
    assert store.resolve_index("msc", "loss_per_week", " ankylosing_spondylitis ") == 3
    assert store.resolve_index("msc", "induction_new", None) is None
    assert store.resolve_index("as_placebo", "theta", "study_8") == 7


@pytest.mark.parametrize(
    ("var", "index", "match"),
    [
        ("induction", "gout", r"no indication 'gout'; use one of: ulcerative_colitis, "),
        ("induction", "5", r"or a position 0 to 4"),
        ("induction", "-1", r"rheumatoid_arthritis"),
        ("induction", None, r"one value per indication; write msc/induction\[LABEL\]"),
        ("induction_new", "0", r"is a scalar; remove the index"),
        ("induction_x", None, r"has no variable 'induction_x' \(variables: "),
    ],
)
def test_resolve_index_errors(var, index, match):
    with pytest.raises(PriorError, match=match):
        store.resolve_index("msc", var, index)


def test_posterior_mean_matches_the_draws():
    post = nc_posterior("msc")
    for i, label in enumerate(INDICATIONS):
        for var in ("induction", "loss_per_week"):
            want = float(post[var].isel(indication=i).mean())
            assert store.posterior_mean("msc", var, label) == pytest.approx(want, rel=1e-12)
    assert store.posterior_mean("as_placebo", "theta_new") == pytest.approx(
        float(nc_posterior("as_placebo")["theta_new"].mean()), rel=1e-12
    )


def test_joint_draws_shape_and_rows_are_posterior_draws():
    rng = np.random.default_rng(5)
    refs = [("induction", "ankylosing_spondylitis"), ("loss_per_week", "3"), ("sae_per_year", None)]
    draws = store.joint_draws("msc", refs, 500, rng)
    assert draws.shape == (500, 3)
    post = nc_posterior("msc")
    q = post["induction"].isel(indication=3).values.reshape(-1)
    lam = post["loss_per_week"].isel(indication=3).values.reshape(-1)
    sae = post["sae_per_year"].values.reshape(-1)
    rows = {(a, b, c) for a, b, c in zip(q, lam, sae, strict=True)}
    assert all(tuple(row) in rows for row in draws)  # one draw index per row, shared
    assert store.joint_draws("msc", [], 3, rng).shape == (3, 0)


def test_joint_draws_keep_the_posterior_correlation():
    """corr(induction of RA, ceiling) in the joint draws = the posterior's (4 SE).

    In msc v2 the strong dependence is between ``q`` and the ceiling ``c`` (the pilots see
    mostly their product); scenarios draw both with ``{prior: msc/...}``.

    Independent marginals would give 0: the posterior correlation is far from 0, so the test
    would catch them (checked below with a shuffled column).
    """
    post = nc_posterior("msc")
    label = "rheumatoid_arthritis"
    q = post["induction"].sel(indication=label).values.reshape(-1)
    c = post["ceiling"].values.reshape(-1)
    rho = np.corrcoef(q, c)[0, 1]
    n = 40_000
    draws = store.joint_draws(
        "msc", [("induction", label), ("ceiling", None)], n, np.random.default_rng(9)
    )
    se = (1 - rho**2) / np.sqrt(n)
    got = np.corrcoef(draws[:, 0], draws[:, 1])[0, 1]
    assert abs(got - rho) < 4 * se + 0.01  # + resampling of 4000 posterior draws
    assert abs(rho) > 0.2
    shuffled = np.random.default_rng(1).permutation(draws[:, 1])
    assert abs(np.corrcoef(draws[:, 0], shuffled)[0, 1] - rho) > 10 * se


def test_joint_draws_are_reproducible_and_use_the_rng():
    refs = [("theta_new", None), ("tau", None)]
    a = store.joint_draws("as_placebo", refs, 100, np.random.default_rng(3))
    b = store.joint_draws("as_placebo", refs, 100, np.random.default_rng(3))
    c = store.joint_draws("as_placebo", refs, 100, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(PriorError, match="n"):
        store.joint_draws("as_placebo", refs, -1, np.random.default_rng(3))


def test_cache_follows_the_file(tmp_path):
    for suffix in (".nc", ".json"):
        shutil.copy(FITTED / f"uc_control{suffix}", tmp_path)
    m1 = store.posterior_mean("uc_control", "response", directory=tmp_path)
    summary = json.loads((tmp_path / "uc_control.json").read_text())
    summary["variables"]["response"]["summary"]["mean"] = 0.5
    path = tmp_path / "uc_control.json"
    path.write_text(json.dumps(summary))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert store.posterior_mean("uc_control", "response", directory=tmp_path) == 0.5 != m1


def test_store_does_not_import_pymc_or_arviz():
    code = (
        "import sys, numpy as np\n"
        "from simtrial.priors import store\n"
        "store.describe('msc'); store.posterior_mean('msc', 'induction', 'rheumatoid_arthritis')\n"
        "store.joint_draws('msc', [('induction', '0'), ('loss_per_week', '0')], 10,"
        " np.random.default_rng(0))\n"
        "bad = [m for m in ('pymc', 'pytensor', 'arviz') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("SIMTRIAL_PRIORS_DIR", None)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env=env)
