"""ammlab simulator: exact twins of the contracts, fast batch engine, agents and metrics.

This package never imports ape: it must run (and be tested) without a chain.
"""
