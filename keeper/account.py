"""One signer per account: the machine-wide lock of a chain and account (`AccountLock`), and
finding the transaction another signer sent from it (`find_transaction`). The transaction
manager (`keeper.txmanager`) takes the lock at `open()` and looks for other signers' nonces
(`TxManager.check_signer`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from filelock import FileLock, Timeout

from keeper.errors import TxError
from sim.atomic import atomic_write_text
from sim.chain.rpc import Rpc
from sim.errors import ChainError


class AccountLockedError(TxError):
    """Another manager (maybe another process) holds the account on this chain."""


LOCK_DIR_ENV = "AMMLAB_LOCK_DIR"


def default_lock_dir() -> Path:
    """Where account locks live: `$AMMLAB_LOCK_DIR`, else `<temp>/ammlab-locks`: one folder
    for every keeper of the machine, whatever its ammlab home."""
    return Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "ammlab-locks")


class AccountLock:
    """One process per chain and account: an exclusive OS lock on
    `<directory>/<chain>-<address>.lock` (filelock; the kernel drops it when its process dies,
    kill -9 included, so a crashed keeper never leaves the account stuck), and the holder's pid
    in `<...>.pid` beside it so a refusal can name it. `chain` names the chain (chain id and
    block 0: a fork shares its upstream's, and is held as the same chain)."""

    def __init__(self, directory: str | os.PathLike, address: str, chain: str):
        self.path = Path(directory) / f"{chain}-{address.lower()}.lock"
        self.pid_path = self.path.with_suffix(".pid")
        self.address = address
        # Not thread-local: the keeper opens the manager in one thread and may tick in another.
        self._lock = FileLock(self.path, timeout=0, thread_local=False)

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except PermissionError as err:
            raise TxError(
                f"cannot take the account lock {self.path} ({err.strerror}): set {LOCK_DIR_ENV}"
                " to a folder every keeper of this machine can write"
            ) from None
        except Timeout:
            try:
                holder = self.pid_path.read_text().strip() or "unknown"
            except OSError:
                holder = "unknown"
            raise AccountLockedError(
                f"account {self.address} is held on this chain by another keeper (pid {holder}, "
                f"lock {self.path}): stop that keeper, or use another account"
            ) from None
        atomic_write_text(self.pid_path, f"{os.getpid()}\n")

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()

    @property
    def held(self) -> bool:
        return self._lock.is_locked


def find_transaction(
    chain: Rpc, address: str, nonce: int, since: int = 0
) -> tuple[str | None, int | None]:
    """(hash, block) of `address`'s transaction with `nonce`: mined (bisecting the account's
    nonce over the blocks from `since`, one eth_getTransactionCount per step) or pending
    (block None); (None, None) where the node cannot say (a pruned node's old state)."""
    try:
        head = chain.block_number()
        if chain.nonce(address, hex(head)) <= nonce:
            where, block = "pending", None
        else:
            lo, hi = since, head
            while lo < hi:  # the first block after which the account's nonce is past it
                mid = (lo + hi) // 2
                if chain.nonce(address, hex(mid)) > nonce:
                    hi = mid
                else:
                    lo = mid + 1
            where, block = hex(hi), hi
        found = chain.call("eth_getBlockByNumber", [where, True]) or {}
    except ChainError:
        return None, None
    for tx in found.get("transactions", []):
        if (tx.get("from", "").lower() == address.lower()
                and int(tx.get("nonce", "0x0"), 16) == nonce):  # fmt: skip
            return tx["hash"], block
    return None, None
