"""The infusion-response model of DESIGN §2 and its closed forms (:mod:`.response`).

The model knows numbers, not the scenario schema: the PyMC fit (:mod:`simtrial.priors`) and
the trial engines evaluate the same π(t).
"""
