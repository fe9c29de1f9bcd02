"""Recorded history: pulled pool and feed events (Parquet) read back, and replayed.

`schema` names the tables and columns the node side's puller (`sim.chain.history`) writes;
`store` reads a pulled folder and its price paths; `v2` and `v3` read a pool's events as calls
with their intent and replay them exactly on the integer twins, `replay` at another fee, block
time or with an arbitrageur; `agent` replays a flow in the fast engine (a V3 pool's through
`v3flow`).
"""
