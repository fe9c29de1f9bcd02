"""Studies: self-contained experiments built from the simulator's pieces (`sim.arbgraph`,
`sim.pools.cpmm_vec`, `sim.sweep`), each with a function that returns a table."""
