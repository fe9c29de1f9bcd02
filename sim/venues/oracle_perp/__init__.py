"""The oracle-priced perp: constant-product depth re-centred each block on a lagging oracle,
with a taker fee (a model venue with no contract yet: it runs on the fast engine only)."""
