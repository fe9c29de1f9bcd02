"""OracleSwap (`contracts/OracleSwap.vy`, a spot venue quoting around an oracle's answer):
twin, batch venue, engine side, exact and chain parts, and the oracle sniper that trades it."""
