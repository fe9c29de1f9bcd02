"""Learned hedging and forecasting.

`sim.learn.train` (torch) trains a no-transaction-band hedger through a differentiable
simulation; `sim.learn.policy.Learned` runs it (numpy) through the standard `decide`;
`sim.learn.forecast` (scikit-learn) forecasts volatility and scales bands from it;
`sim.learn.evaluate` compares every policy on the same held-out paths; `sim.learn.book` is the
book a model is trained for (a config's, or a chain's with expiries as block timestamps) and
the check that a keeper's book is it; `sim.learn.features` computes a policy's extra features
from the price history, the same way in training and in every keeper; `sim.cli.learn` is the
`ammlab learn` command group. Importing this package imports neither torch nor scikit-learn.
"""
