"""Reading cached decision tables over (x_t, x_c) for every simulated trial.

The decisions themselves are made in one place, :class:`simtrial.engines.design.Design`
(through :mod:`simtrial.engines.decide`), for every Monte Carlo engine.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray


def lookup(
    table: Callable[[int, int], NDArray],
    x_t: ArrayLike,
    m_t: ArrayLike,
    x_c: ArrayLike,
    m_c: ArrayLike,
) -> NDArray:
    """Read ``table(m_t, m_c)[x_t, x_c]`` for every trial.

    ``x`` are responders and ``m`` patients analysed per arm (the number randomised under NRI,
    or the number still in the study under ``exclude``). Trials are grouped by (m_t, m_c), so a
    10 000-trial point costs a handful of tables, not 10 000 tests.
    """
    x_t, x_c, m_t, m_c = np.broadcast_arrays(
        np.asarray(x_t, dtype=np.int64),
        np.asarray(x_c, dtype=np.int64),
        np.asarray(m_t, dtype=np.int64),
        np.asarray(m_c, dtype=np.int64),
    )
    if x_t.size == 0:
        return np.zeros(x_t.shape, dtype=bool)
    key = m_t * (int(m_c.max()) + 1) + m_c
    unique, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(key.shape)
    out = None
    for k in range(len(unique)):
        where = inverse == k
        mt, mc = int(m_t[where].flat[0]), int(m_c[where].flat[0])
        values = table(mt, mc)[x_t[where], x_c[where]]
        if out is None:
            out = np.zeros(x_t.shape, dtype=values.dtype)
        out[where] = values
    assert out is not None
    return out
