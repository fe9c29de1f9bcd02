"""Chain part of the oracle-priced perp: none to deploy.

The venue has no contract yet and its exact part (`sim.venues.oracle_perp.exact`) refuses
every scenario that uses it before a chain run starts, so the backend never builds this part;
it is the package's chain slot, to fill when a contract exists.
"""

from __future__ import annotations

from sim.venues.base import ChainPart


class OraclePerpChainPart(ChainPart):
    """Deploys nothing (see the module docstring)."""


__all__ = ["OraclePerpChainPart"]
