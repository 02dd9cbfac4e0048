"""Planning layer: a scenario set → runs of the engines → results.

:mod:`.power` (points, sample-size search, calibration), :mod:`.parallel` (Dask and local
blocks), :mod:`.sweep` (sensitivity sweeps), :mod:`.curves` (type I error curves),
:mod:`.design_summary` (the design as data) and :mod:`.prior_compare` (prior versions
compared on the shipped scenarios).
"""
