"""Package plumbing: public names imported on first use, and modules callable as their function.

:func:`lazy_getattr` is the module ``__getattr__`` of ``simtrial`` and ``simtrial.priors``: their
public names are imported when first asked for, so ``simtrial --help`` loads neither NumPy nor
SciPy.

``from simtrial import design_summary`` and ``from simtrial.priors import ess`` must give the
functions users know, but each is also the name of a submodule; once the submodule is imported
(the package's names load lazily, so that happens in any order) Python binds the package
attribute to the module. Making the module callable keeps both spellings working:
``design_summary(scenarios)`` and ``design_summary.design_summary(scenarios)``.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` importing ``name`` from ``table[name]`` on first use (and
    keeping it in the package's namespace)."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


class CallableModule(types.ModuleType):
    """A module whose call is its function of the same name."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, self.__name__.rsplit(".", 1)[-1])(*args, **kwargs)


def make_callable(module_name: str) -> None:
    """Make ``sys.modules[module_name]`` callable as its function of the same name."""
    sys.modules[module_name].__class__ = CallableModule
