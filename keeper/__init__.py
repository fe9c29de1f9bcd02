"""ammlab keeper: reads the chain, computes the book's Greeks, hedges; also owns the CLI and
the local-chain tooling. Imports ape lazily so simulator commands start fast."""
