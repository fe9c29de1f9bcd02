"""The fast engine: many worlds stepped together (`core`, the fused reference kernel in `fused`),
what agents see in a block (`context`), the books of metrics (`ledger`), and the same engine on
one world in exact integers (`exact`), which the chain backend replays on real contracts."""
