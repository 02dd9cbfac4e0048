"""Modules that can be called as the function they are named after.

``from simtrial import design_summary`` and ``from simtrial.priors import ess`` must give the
functions users know, but each is also the name of a submodule; once the submodule is imported
(the package's names load lazily, so that happens in any order) Python binds the package
attribute to the module. Making the module callable keeps both spellings working:
``design_summary(scenarios)`` and ``design_summary.design_summary(scenarios)``.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class CallableModule(types.ModuleType):
    """A module whose call is its function of the same name."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, self.__name__.rsplit(".", 1)[-1])(*args, **kwargs)


def make_callable(module_name: str) -> None:
    """Make ``sys.modules[module_name]`` callable as its function of the same name."""
    sys.modules[module_name].__class__ = CallableModule
