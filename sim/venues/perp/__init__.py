"""PerpMarket (`contracts/PerpMarket.vy`, a perpetual future with a margin engine): twin, batch
twin, engine venue and side, exact and chain parts, and its traders and liquidators."""
