"""Exceptions of the keeper package. The CLI prints them as one line, no stack trace."""


class KeeperError(Exception):
    """Base of every error raised by `keeper`; the message says what to do."""


class ChainError(KeeperError):
    """The chain is missing, unreachable, or not the one expected."""


class ManifestError(ChainError):
    """A deployment manifest is missing, malformed, or for another chain."""
