"""Exceptions raised by simtrial.

Every error a user can cause derives from :class:`SimtrialError`; the command line turns it
into one message and exit status 2.
"""

from __future__ import annotations


class SimtrialError(Exception):
    """Base class of every error simtrial raises on purpose."""


class ScenarioError(SimtrialError):
    """A scenario (or evidence) file is not valid.

    Parameters
    ----------
    message : str
        What is wrong and what is allowed.
    file : str, optional
        The file being read.
    line : int, optional
        1-based line of the offending field.
    path : str, optional
        Field path, e.g. ``arms.msc.schedule.infusion_weeks[2]``.
    """

    def __init__(
        self,
        message: str,
        file: str | None = None,
        line: int | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class PriorError(SimtrialError):
    """A fitted prior is missing, malformed, or failed its diagnostics."""


class EngineError(SimtrialError):
    """An engine cannot run the scenario as written (e.g. a feature it does not support)."""


class ScenarioWarning(UserWarning):
    """A scenario value that is allowed but probably not meant (e.g. an infusion after the end
    of follow-up, which is never given). The command line prints it as one ``warning:`` line."""
