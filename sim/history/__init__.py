"""Recorded history: pulled pool and feed events (Parquet) read back, and replayed.

`schema` names the tables and columns the node side's puller (`sim.chain.history`) writes;
`store` reads a pulled folder; `flow` turns a pool's events into actions with their intent;
`v2` and `v3` replay them exactly on the integer twins; `price` gives the price path a
scenario replays; `agent` replays a flow in the fast engine (a V3 pool's through `v3flow`).
"""
