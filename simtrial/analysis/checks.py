"""Argument checks shared by the analysis modules (errors name the argument and the value)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    """``value`` must be one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f'"{name}" must be one of {allowed}, got {value!r}')


def check_n(name: str, value: int) -> int:
    """A non-negative integer (bools refused)."""
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f'"{name}" must be an integer >= 0, got {value!r}')
    return int(value)


def check_counts(name: str, x: ArrayLike, n: int, n_name: str) -> NDArray[np.int64]:
    """Integer counts in [0, n], as an int64 array."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub":
        as_float = arr.astype(np.float64)
        if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
            raise ValueError(f'"{name}" must hold integers, got {x!r}')
    out = arr.astype(np.int64)
    if np.any(out < 0) or np.any(out > n):
        raise ValueError(f'"{name}" must lie in [0, {n_name}] = [0, {n}], got {x!r}')
    return out
