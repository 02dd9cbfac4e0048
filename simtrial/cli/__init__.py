"""Command line (top layer): ``simtrial run | validate | ...`` and ``simtrial priors ...``.

Layers, top to bottom (checked by the import-linter contract in ``pyproject.toml``)::

    cli → report → planning → engines → analysis | scenario → priors → model → core

Nothing below imports from here.
"""
