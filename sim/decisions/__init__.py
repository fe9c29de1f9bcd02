"""The keeper's pure decisions, shared by the simulator's keeper agent and the live keeper:
the book's Greeks (`book`), hedging policies (`hedging`, named for configs in `policies`),
order splitting at least cost (`routing`), and arbitrage cycles (`arbgraph`)."""
