"""Exceptions of the simulator package."""


class SimError(Exception):
    """Base of every error raised by `sim`."""


class Revert(SimError):
    """A twin refused an operation exactly where its contract reverts.

    `reason` is the contract's revert string, byte for byte, so a test can expect the same
    failure from the chain and from the twin.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ConfigError(SimError):
    """A scenario or parameter is invalid; the message names the field and what to do."""


class ChainError(SimError):
    """The chain is missing, unreachable, or not the one expected; the message says what to do."""


class ManifestError(ChainError):
    """A deployment manifest is missing, malformed, or for another chain."""
