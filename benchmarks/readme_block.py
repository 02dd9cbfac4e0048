"""What the benchmark scripts share to write their README blocks: the commit they measured and
the replacement of one marked block (``python benchmarks/<script>.py --readme``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def commit() -> str:
    """The short hash of HEAD, with a note when tracked files have uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def replace_block(begin: str, end: str, block: str) -> bool:
    """Replace README.md from ``begin`` to ``end`` (both included) by ``block`` (which carries
    the markers); False when the markers are missing."""
    text = README.read_text()
    if begin not in text or end not in text:
        return False
    before, rest = text.split(begin, 1)
    README.write_text(before + block + rest.split(end, 1)[1])
    return True
