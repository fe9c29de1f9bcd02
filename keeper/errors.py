"""Exceptions of the keeper package. The CLI prints them as one line, no stack trace.

Errors of the node side (an unreachable RPC, a manifest for another chain) are
`sim.errors.ChainError`, shared with the simulator's chain engine.
"""


class KeeperError(Exception):
    """Base of every error raised by `keeper`; the message says what to do."""


class TxError(KeeperError):
    """A transaction could not be made as asked; the journal says what happened."""
