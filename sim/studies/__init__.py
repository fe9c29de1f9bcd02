"""Studies: self-contained experiments built from the simulator's pieces (`sim.decisions.arbgraph`,
`sim.venues.cpmm.batch`, `sim.studies.sweep`), each with a function that returns a table."""
