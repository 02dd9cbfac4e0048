"""The output directory of ``simtrial run``, replaced as a whole.

Every output of a run (``summary.json``, ``points.csv``, ``events.csv``, the plots and
``report.html``) is written into a temporary sibling directory (``.<name>.tmp-XXXX``), which
then takes the place of the target directory. On Linux the two are swapped atomically
(``renameat2(RENAME_EXCHANGE)``) and the old outputs are removed; elsewhere the old directory
is renamed aside, the new one renamed in, and the old one removed. So an interrupted run leaves
the previous outputs untouched, and two runs into one ``--out`` leave the complete outputs of one
of them — never ``summary.json`` of one beside ``report.html`` of the other.

Because the whole directory is replaced, :meth:`OutputDir.check` refuses (before anything is
simulated) a target that is a file, that cannot be written, or that holds files simtrial does
not write (``--out .`` must not delete a working tree).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from simtrial.errors import SimtrialError

OUTPUT_FILES = frozenset({"summary.json", "points.csv", "events.csv", "sweep.csv", "report.html"})
"""Names a run writes, besides ``*.png``."""


def _ours(name: str) -> bool:
    return (
        name in OUTPUT_FILES
        or name.endswith(".png")
        or (
            name.startswith(".") and name.endswith(".tmp")  # an interrupted atomic_write
        )
    )


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically (Linux ``renameat2``); False when not supported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOENT, errno.EPERM, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


class OutputDir:
    """A run's output directory: check it up front, stage the outputs, publish them at once.

    Examples
    --------
    >>> out = OutputDir(Path("results/ra-phase2"))  # doctest: +SKIP
    >>> out.check()  # before simulating  # doctest: +SKIP
    >>> with out as staging:  # doctest: +SKIP
    ...     (staging / "summary.json").write_text("{}")
    ...     out.publish()
    """

    def __init__(self, target: Path) -> None:
        self.target = Path(target)
        self.staging: Path | None = None

    def check(self) -> None:
        """Refuse, before simulating, a target that is a file, is not writable or holds files
        simtrial did not write.

        Raises
        ------
        SimtrialError
            With the path and what to do.
        """
        target = self.target
        if target.is_symlink():
            raise SimtrialError(
                f"--out {target}: is a symbolic link; give the directory it points to"
            )
        if target.exists():
            if not target.is_dir():
                raise SimtrialError(f"--out {target}: is a file, not a directory; give a directory")
            try:
                foreign = sorted(p.name for p in target.iterdir() if not _ours(p.name))
            except OSError as exc:
                raise SimtrialError(f"--out {target}: cannot list it ({exc.strerror})") from None
            if foreign:
                shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
                raise SimtrialError(
                    f"--out {target}: the directory holds files simtrial did not write "
                    f"({shown}); a run replaces the whole directory, so give a new or "
                    "empty directory, or a previous run's output"
                )
        ancestor = target.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise SimtrialError(f"--out {target}: {ancestor} is a file, not a directory")
        try:
            probe = tempfile.mkdtemp(dir=ancestor, prefix=".simtrial-probe-")
            os.rmdir(probe)
        except OSError as exc:
            raise SimtrialError(
                f"--out {target}: cannot write in {ancestor} ({exc.strerror or exc})"
            ) from None

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(
            tempfile.mkdtemp(dir=self.target.parent, prefix=f".{self.target.name}.tmp-")
        )
        os.chmod(self.staging, 0o777 & ~_umask())
        return self.staging

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    def final(self, path: Path) -> Path:
        """Where a staged file ends up."""
        if self.staging is not None and path.parent == self.staging:
            return self.target / path.name
        return path

    def publish(self) -> None:
        """Put the staged directory in place of the target (see the module docstring)."""
        staging, target = self.staging, self.target
        if staging is None:
            raise RuntimeError("publish() outside the with block")
        for _ in range(20):
            if target.is_dir():
                if _exchange(staging, target):  # staging now holds the old outputs
                    shutil.rmtree(staging, ignore_errors=True)
                    self.staging = None
                    return
                old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
                try:
                    os.replace(target, old)
                except FileNotFoundError:  # another run moved it first
                    os.rmdir(old)
                    continue
                try:
                    os.rename(staging, target)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
                    continue  # another run put its directory in between: try again
                finally:
                    shutil.rmtree(old, ignore_errors=True)
                self.staging = None
                return
            try:
                os.rename(staging, target)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                continue
            self.staging = None
            return
        raise SimtrialError(f"--out {target}: could not replace it (other runs kept writing it)")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
