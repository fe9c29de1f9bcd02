"""PriceFeed (`contracts/PriceFeed.vy`, Chainlink AggregatorV3-compatible): twin, batch feed
model (deviation, heartbeat, latency, noise), engine side, exact and chain parts."""
