"""Test configuration: property tests are derandomized, so a test run is reproducible (the same
examples every time, in CI and here) and a failure found once is found again."""

from hypothesis import settings

settings.register_profile("simtrial", derandomize=True, database=None)
settings.load_profile("simtrial")
