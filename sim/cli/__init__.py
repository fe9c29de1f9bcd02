"""The simulator's and the node side's command groups, mounted by `ammlab` (`keeper.cli`):
`chain`/`fork`, `sim run|replay`, `learn`, `bench`, `demo`."""
