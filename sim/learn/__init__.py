"""Learned hedging and forecasting.

`sim.learn.train` (torch) trains a no-transaction-band hedger through a differentiable
simulation; `sim.hedging.Learned` runs it (numpy) through the standard `decide`;
`sim.learn.forecast` (scikit-learn) forecasts volatility and scales bands from it;
`sim.learn.evaluate` compares every policy on the same held-out paths; `sim.learn.cli` is the
`ammlab learn` command group. Importing this package imports neither torch nor scikit-learn.
"""
