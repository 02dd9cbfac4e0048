"""Trial-level decisions from simulated counts, through cached rejection tables."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from simtrial.analysis.frequentist import rejection_table
from simtrial.scenario import Analysis


def reject(
    analysis: Analysis,
    x_t: ArrayLike,
    m_t: ArrayLike,
    x_c: ArrayLike,
    m_c: ArrayLike,
) -> NDArray[np.bool_]:
    """Whether the final analysis rejects, trial by trial.

    ``x`` are responders and ``m`` patients analysed per arm (``m`` is the number randomised
    under NRI, or the number still in the study under ``exclude``). The decision for every
    (x_t, x_c) is read from the test's rejection table for the trial's (m_t, m_c), so a
    10 000-trial point costs a handful of tables, not 10 000 tests.
    """
    x_t = np.asarray(x_t, dtype=np.int64)
    x_c = np.asarray(x_c, dtype=np.int64)
    m_t, m_c = np.broadcast_arrays(np.asarray(m_t, dtype=np.int64), np.asarray(m_c, dtype=np.int64))
    out = np.zeros(np.broadcast(x_t, x_c, m_t).shape, dtype=bool)
    if out.size == 0:
        return out
    x_t, x_c, m_t, m_c = np.broadcast_arrays(x_t, x_c, m_t, m_c)
    key = m_t.astype(np.int64) * (int(m_c.max()) + 1) + m_c
    unique, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(key.shape)
    for k in range(len(unique)):
        where = inverse == k
        mt, mc = int(m_t[where].flat[0]), int(m_c[where].flat[0])
        table = rejection_table(analysis.test, mt, mc, analysis.alpha, analysis.sided)
        out[where] = table[x_t[where], x_c[where]]
    return out
