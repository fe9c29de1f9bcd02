"""Scenario config of a Chainlink-style feed (`contracts/PriceFeed.vy`)."""

from __future__ import annotations

from pydantic import Field

from sim.config import ConfigModel


class OracleConfig(ConfigModel):
    """A Chainlink-style feed of the reference price."""

    name: str = "feed"
    """Feed name."""
    deviation_bps: float = Field(50.0, ge=0)
    """Update when the observed price moves this far from the answer, basis points."""
    heartbeat: float = Field(3600.0, gt=0)
    """Update at least this often, seconds."""
    latency_blocks: int = Field(1, ge=0)
    """Blocks between the node's observation and the answer landing on chain."""
    noise_bps: float = Field(0.0, ge=0)
    """Standard deviation of the node's observation error, basis points."""
    pipelined: bool = False
    """Send a report whenever the trigger fires, even while earlier ones are in flight, each
    landing `latency_blocks` later: with `deviation_bps: 0` the answer is the reference price
    exactly `latency_blocks` blocks ago (a fixed-delay oracle). False: one report in flight at
    a time (a Chainlink round), so the answer's age varies between rounds."""
