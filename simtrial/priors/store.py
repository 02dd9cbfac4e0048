"""Read the committed fits (``priors/fitted/<fit>.nc`` and ``<fit>.json``) without PyMC.

This is the interface the simulation core uses for ``{prior: FIT/VAR[INDEX]}`` parameters:
:func:`describe` (variables, dimensions, labels), :func:`resolve_index`, :func:`posterior_mean`
(power uses the mean) and :func:`joint_draws` (assurance draws parameters of one fit with one
shared draw index per row, so that correlated parameters such as ``induction`` and
``loss_per_week`` keep their joint posterior).

Only NumPy, xarray (with the h5netcdf engine) and json are imported. Results are cached per file
path and modification time, so repeated calls are cheap and a refit is picked up.

Examples
--------
>>> import numpy as np
>>> from simtrial.priors import store
>>> store.resolve_index("msc", "induction", "rheumatoid_arthritis")
4
>>> draws = store.joint_draws(
...     "msc", [("induction", "ankylosing_spondylitis"), ("loss_per_week", "3")], 5,
...     np.random.default_rng(1))
>>> draws.shape
(5, 2)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from simtrial.errors import PriorError

__all__ = [
    "available_fits",
    "check_fit",
    "clear_cache",
    "describe",
    "fitted_dir",
    "joint_draws",
    "posterior_draws",
    "point_summary",
    "posterior_mean",
    "posterior_quantile",
    "resolve_index",
    "summary",
    "variable_kind",
]

_CACHE: dict[tuple[str, str, int], Any] = {}


def fitted_dir() -> Path:
    """Directory of the fitted priors: ``$SIMTRIAL_PRIORS_DIR`` or ``<repo>/priors/fitted``."""
    env = os.environ.get("SIMTRIAL_PRIORS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "priors" / "fitted"


def clear_cache() -> None:
    """Forget every cached summary and posterior (the mtime check makes this rarely needed)."""
    _CACHE.clear()


def available_fits(directory: Path | str | None = None) -> list[str]:
    """Names of the fits in ``directory`` (those with a ``<fit>.nc``), sorted."""
    directory = Path(directory) if directory is not None else fitted_dir()
    return sorted(p.stem for p in directory.glob("*.nc"))


def _path(fit: str, directory: Path | str | None, suffix: str) -> Path:
    directory = Path(directory) if directory is not None else fitted_dir()
    nc = directory / f"{fit}.nc"
    if not nc.is_file():
        available = ", ".join(available_fits(directory)) or "none"
        raise PriorError(
            f"no fitted prior {fit!r} in {directory} (available: {available}); "
            f"run `simtrial priors fit {fit}`"
        )
    return directory / f"{fit}{suffix}"


def _cached(kind: str, path: Path, load: Any) -> Any:
    key = (kind, str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _CACHE:
        _CACHE[key] = load(path)
    return _CACHE[key]


def _read_summary(fit: str, directory: Path | str | None) -> dict[str, Any] | None:
    path = _path(fit, directory, ".json")
    if not path.is_file():
        return None

    def load(p: Path) -> dict[str, Any]:
        try:
            with open(p, "rb") as handle:
                raw = handle.read(MAX_SUMMARY_BYTES + 1)
            if len(raw) > MAX_SUMMARY_BYTES:
                raise ValueError(f"larger than {MAX_SUMMARY_BYTES:,} bytes")
            data = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise PriorError(
                f"cannot read the fit summary {p}: {exc}; rebuild it with "
                f"`simtrial priors fit --summary-only {fit}`"
            ) from None
        problem = _summary_problem(data)
        if problem is not None:
            raise PriorError(
                f"{p} is not a simtrial fit summary ({problem}); rebuild it with "
                f"`simtrial priors fit --summary-only {fit}`"
            )
        return data

    return _cached("json", path, load)


MAX_SUMMARY_BYTES = 16 * 1024**2
"""Largest ``<fit>.json`` read (the committed ones are under 30 KiB)."""


def _summary_problem(data: Any) -> str | None:
    """What is wrong with the structure of a ``<fit>.json`` summary, or ``None``."""
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an object"
    for key, kind in (("diagnostics", dict), ("variables", dict)):
        if not isinstance(data.get(key), kind):
            return f"no {key!r} object"
    for key in ("chains", "draws"):
        if not isinstance(data.get(key), int):
            return f"no {key!r} count"
    for var, info in data["variables"].items():
        if not isinstance(info, dict):
            return f"variable {var!r} is not an object"
        dims, coords, stats = info.get("dims"), info.get("coords"), info.get("summary")
        if (
            not isinstance(dims, list)
            or not isinstance(coords, dict)
            or not isinstance(stats, dict)
        ):
            return f"variable {var!r} lacks dims, coords or summary"
        if not isinstance(info.get("kind"), str):
            return f"variable {var!r} has no kind"
        if len(dims) > 1:
            return f"variable {var!r} has more than one dimension"
        if dims:
            labels = coords.get(dims[0])
            if not isinstance(labels, list) or not labels:
                return f"variable {var!r} has no labels for {dims[0]!r}"
            entries = [stats.get(str(label)) for label in labels]
        else:
            entries = [stats]
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("mean"), int | float):
                return f"variable {var!r} has no mean"
    return None


def _read_posterior(fit: str, directory: Path | str | None) -> dict[str, Any]:
    """``var -> {"dims", "coords", "draws"}`` with draws stacked to (chain·draw, ...)."""
    path = _path(fit, directory, ".nc")

    def load(p: Path) -> dict[str, Any]:
        import xarray as xr

        hint = f"; refit it with `simtrial priors fit {fit}` (or restore the committed file)"
        try:
            with xr.open_dataset(p, group="posterior", engine="h5netcdf") as ds:
                ds = ds.load()
            out: dict[str, Any] = {}
            for name, da in ds.data_vars.items():
                if da.dims[:2] != ("chain", "draw"):
                    raise PriorError(
                        f"{p}: posterior variable {name!r} lacks (chain, draw) dims{hint}"
                    )
                dims = [str(d) for d in da.dims[2:]]
                values = np.asarray(da.values, dtype=float)
                if values.size == 0 or not np.isfinite(values).all():
                    raise PriorError(
                        f"{p}: posterior variable {name!r} has no draws or non-finite draws{hint}"
                    )
                out[str(name)] = {
                    "dims": dims,
                    "coords": {d: [str(x) for x in da[d].values] for d in dims},
                    "draws": values.reshape((-1,) + values.shape[2:]),
                }
        except PriorError:
            raise
        except Exception as exc:  # noqa: BLE001 - h5py, xarray and netCDF raise many kinds
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise PriorError(f"cannot read the fitted prior {p}: {first}{hint}") from None
        if not out:
            raise PriorError(f"{p}: the posterior group has no variables{hint}")
        return out

    return _cached("nc", path, load)


def check_fit(fit: str, directory: Path | str | None = None) -> None:
    """Read both files of a fit (cached), raising one :class:`PriorError` if either is
    missing, corrupt, truncated or not a simtrial fit."""
    _read_summary(fit, directory)
    _read_posterior(fit, directory)


def summary(fit: str, directory: Path | str | None = None) -> dict[str, Any]:
    """The ``<fit>.json`` summary (see :func:`simtrial.priors.fitting.summarize`).

    Raises
    ------
    PriorError
        No such fit, or its summary is missing (rebuild it with ``simtrial priors fit``).
    """
    data = _read_summary(fit, directory)
    if data is None:
        raise PriorError(
            f"fitted prior {fit!r} has no summary {fit}.json; run `simtrial priors fit {fit}`"
        )
    return data


def describe(fit: str, directory: Path | str | None = None) -> dict[str, dict[str, Any]]:
    """Variables of a fit: ``var -> {"dims": [...], "coords": {dim: [labels]}}``.

    ``dims`` excludes ``chain`` and ``draw``. Read from ``<fit>.json`` when present (cheap),
    otherwise from the posterior group of ``<fit>.nc``.

    Raises
    ------
    PriorError
        No such fit in ``directory``.
    """
    summary = _read_summary(fit, directory)
    if summary is not None and "variables" in summary:
        return {
            var: {
                "dims": list(info["dims"]),
                "coords": {k: list(v) for k, v in info["coords"].items()},
            }
            for var, info in summary["variables"].items()
        }
    return {
        var: {"dims": list(info["dims"]), "coords": {k: list(v) for k, v in info["coords"].items()}}
        for var, info in _read_posterior(fit, directory).items()
    }


def variable_kind(fit: str, var: str, directory: Path | str | None = None) -> str | None:
    """``"probability"``, ``"rate"`` or ``"other"`` as the fit summary declares ``var``;
    ``None`` when the summary does not say."""
    _variable(fit, var, directory)
    summary = _read_summary(fit, directory)
    if summary is None:
        return None
    kind = summary.get("variables", {}).get(var, {}).get("kind")
    return str(kind) if kind is not None else None


def _variable(fit: str, var: str, directory: Path | str | None) -> dict[str, Any]:
    variables = describe(fit, directory)
    if var not in variables:
        raise PriorError(
            f"fitted prior {fit!r} has no variable {var!r} (variables: {', '.join(variables)})"
        )
    return variables[var]


def resolve_index(
    fit: str, var: str, index: str | None, directory: Path | str | None = None
) -> int | None:
    """Position of ``index`` along the single dimension of ``fit/var``.

    ``index`` is a label (``"rheumatoid_arthritis"``) or an integer string (``"4"``); ``None``
    for a scalar variable (returns ``None``).

    Raises
    ------
    PriorError
        The label or position is not valid (the message lists the allowed labels), the variable
        is vector-valued and no index was given, or an index was given for a scalar.
    """
    info = _variable(fit, var, directory)
    dims = info["dims"]
    if not dims:
        if index is not None:
            raise PriorError(f"{fit}/{var} is a scalar; remove the index [{index}]")
        return None
    if len(dims) > 1:
        raise PriorError(f"{fit}/{var} has dimensions {dims}; only one is supported")
    labels = info["coords"][dims[0]]
    allowed = ", ".join(labels)
    if index is None:
        raise PriorError(
            f"{fit}/{var} has one value per {dims[0]}; write {fit}/{var}[LABEL] with LABEL one "
            f"of: {allowed}"
        )
    index = str(index).strip()
    if index in labels:
        return labels.index(index)
    try:
        pos = int(index)
    except ValueError:
        pos = None
    if pos is not None and 0 <= pos < len(labels):
        return pos
    raise PriorError(
        f"{fit}/{var}[{index}]: no {dims[0]} {index!r}; use one of: {allowed} "
        f"(or a position 0 to {len(labels) - 1})"
    )


def posterior_draws(
    fit: str, var: str, index: str | None = None, directory: Path | str | None = None
) -> np.ndarray:
    """All posterior draws of ``fit/var[index]`` (chains stacked), shape ``(chains·draws,)``."""
    pos = resolve_index(fit, var, index, directory)
    posterior = _read_posterior(fit, directory)
    if var not in posterior:
        raise PriorError(f"{fit}/{var} is in the fit summary but not in its posterior draws")
    return _column(fit, var, pos, posterior)


def _column(fit: str, var: str, pos: int | None, posterior: dict[str, Any]) -> np.ndarray:
    """The draws of ``var`` (at ``pos``), checked against the summary's labels."""
    draws = posterior[var]["draws"]
    if pos is None:
        if draws.ndim != 1:
            raise PriorError(f"{fit}/{var}: the summary and the posterior draws disagree (shape)")
        return draws
    if draws.ndim != 2 or pos >= draws.shape[1]:
        raise PriorError(
            f"{fit}/{var}: the summary and the posterior draws disagree (labels); "
            f"refit with `simtrial priors fit {fit}`"
        )
    return draws[:, pos]


def posterior_mean(
    fit: str, var: str, index: str | None = None, directory: Path | str | None = None
) -> float:
    """Posterior mean of ``fit/var[index]`` (from the JSON summary when present)."""
    pos = resolve_index(fit, var, index, directory)
    summary = _read_summary(fit, directory)
    if summary is not None:
        info = summary.get("variables", {}).get(var)
        if info is not None:
            stats = info["summary"]
            if pos is not None:
                stats = stats[info["coords"][info["dims"][0]][pos]]
            return float(stats["mean"])
    return float(posterior_draws(fit, var, index, directory).mean())


def posterior_quantile(
    fit: str, var: str, index: str | None, q: float, directory: Path | str | None = None
) -> float:
    """Quantile ``q`` of the posterior draws of ``fit/var[index]`` (numpy's default, linear)."""
    return float(np.quantile(posterior_draws(fit, var, index, directory), q))


def joint_draws(
    fit: str,
    refs: list[tuple[str, str | None]],
    n: int,
    rng: np.random.Generator,
    directory: Path | str | None = None,
) -> np.ndarray:
    """``n`` joint posterior draws of several variables of one fit.

    One draw index per row, shared by every reference (chains × draws stacked, indices from
    ``rng.integers``), so the rows follow the joint posterior (``induction`` and
    ``loss_per_week`` trade off; independent marginals would be wrong).

    Parameters
    ----------
    fit : str
        Fit name.
    refs : list of (var, index)
        ``index`` as for :func:`resolve_index` (``None`` for scalars).
    n : int
        Number of rows.
    rng : numpy.random.Generator
        Source of the draw indices.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, len(refs))``.
    """
    if n < 0:
        raise PriorError(f'"n" must be >= 0, got {n}')
    positions = [resolve_index(fit, var, index, directory) for var, index in refs]
    posterior = _read_posterior(fit, directory)
    columns = []
    for (var, _), pos in zip(refs, positions, strict=True):
        if var not in posterior:
            raise PriorError(f"{fit}/{var} is in the fit summary but not in its posterior draws")
        columns.append(_column(fit, var, pos, posterior))
    total = posterior[next(iter(posterior))]["draws"].shape[0]
    rows = rng.integers(0, total, size=n)
    if not columns:
        return np.empty((n, 0))
    return np.stack([c[rows] for c in columns], axis=1)


def point_summary(
    fit: str, var: str, index: str | None = None, directory: Path | str | None = None
) -> tuple[str, float]:
    """The point value a plug-in calculation may use: ``("mean", m)`` or ``("median", m)``.

    From the ``point_summary`` field of ``<fit>.json`` (written by
    :func:`simtrial.priors.fitting.summarize`): ``"median"`` when the draws are so heavy-tailed
    (``mean_usable: false``, Pareto k̂ of the right tail >= 0.7) that their mean is not a usable
    number, e.g. a loss rate for a new indication. Fits summarised before this field existed
    give ``"mean"``.
    """
    pos = resolve_index(fit, var, index, directory)
    summary = _read_summary(fit, directory)
    info = (summary or {}).get("variables", {}).get(var)
    if info is not None:
        stats = info["summary"]
        if pos is not None:
            stats = stats[info["coords"][info["dims"][0]][pos]]
        which = str(stats.get("point_summary", "mean"))
        return which, float(stats["q50" if which == "median" else "mean"])
    draws = posterior_draws(fit, var, index, directory)
    return "mean", float(draws.mean())
