"""The one atomic file writer: a temporary file in the same directory, then a rename.

A reader (or an interrupted run) sees the old file or the new one, never half of one. The file
gets the permissions ``open`` would give it (``0o666`` less the umask; ``mkstemp`` alone would
make it private). Used for every file simtrial writes: run outputs, reports, fitted priors.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_with"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_with(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it onto ``path``.

    For writers that want a file name (``to_netcdf``, ``savefig``).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_with(d / "x.txt", lambda p: p.write_text("hi"))
    >>> (d / "x.txt").read_text(), [p.name for p in d.iterdir()]
    ('hi', ['x.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write text (UTF-8, newlines as given) or bytes to ``path`` atomically."""

    def write(tmp: Path) -> None:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as handle:
                handle.write(data)

    atomic_write_with(path, write)
