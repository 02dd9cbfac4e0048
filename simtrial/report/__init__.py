"""Output layer: the terminal table, plots, report.html, narrative text and the output directory.

Everything here reads finished results (:mod:`simtrial.engines.results`) and writes them; it
runs no simulation of its own except the illustrative response curves of :mod:`.plots`.
Nothing below the command line imports from here, so ``simtrial run --no-report`` loads none
of it.
"""
