"""Who signs the keeper's transactions: an Ape account (an encrypted keystore), or a raw key on
a local development chain only.

* `ApeAccountSigner(alias)`: the account `ape accounts import ALIAS` (or `generate`) stored
  in Ape's encrypted keystore (`~/.ape/accounts/ALIAS.json`; `APE_DATA_FOLDER` moves it).
  For unattended runs the passphrase comes from `APE_ACCOUNTS_<ALIAS>_PASSPHRASE`, as Ape
  documents; the account is unlocked once and signs through Ape (`AccountAPI.sign_transaction`).
* `raw_key_signer(key, client_version, force)`: an eth-account key from `AMMLAB_KEEPER_KEY`,
  allowed only when the node is a local development chain (anvil, Hardhat, Ganache — what its
  `web3_clientVersion` says), unless `force` (the operator's explicit choice, in one flag).

Both give what the transaction manager needs: `address` and `sign_transaction(tx) ->` an
object with `raw_transaction` (bytes, journaled and rebroadcast byte for byte) and `hash`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from keeper.errors import KeeperError

KEY_ENV = "AMMLAB_KEEPER_KEY"
DEV_CLIENTS = ("anvil", "hardhat", "ganache")
"""`web3_clientVersion` prefixes of local development chains (case-insensitive)."""


class SignerError(KeeperError):
    """No usable signer; the message says what to do."""


@dataclass(frozen=True)
class Signed:
    """A signed transaction: its bytes (what is broadcast) and its hash."""

    raw_transaction: bytes
    hash: bytes


def is_dev_chain(client_version: str) -> bool:
    """Whether a node is a local development chain, by its `web3_clientVersion`."""
    return client_version.strip().lower().startswith(DEV_CLIENTS)


def raw_key_signer(key: str | bytes, client_version: str, force: bool = False) -> Any:
    """An eth-account signer for a raw key, refused off a development chain unless `force`."""
    if not force and not is_dev_chain(client_version):
        raise SignerError(
            f"a raw private key ({KEY_ENV}) is only for local development chains, and this node "
            f"is {client_version.split('/')[0]!r}: sign with an Ape account (--account ALIAS), "
            "or pass --force-raw-key if you mean it"
        )
    try:
        return Account.from_key(key)
    except (ValueError, TypeError) as err:
        raise SignerError(f"{KEY_ENV} is not a private key ({err})") from err


class ApeAccountSigner:
    """Signs through an Ape keystore account (see the module docstring)."""

    def __init__(self, alias: str, passphrase: str | None = None):
        from ape import accounts
        from ape.exceptions import AccountsError

        env = f"APE_ACCOUNTS_{alias}_PASSPHRASE"
        passphrase = passphrase if passphrase is not None else os.environ.get(env)
        try:
            account = accounts.load(alias)
        except (AccountsError, IndexError, KeyError) as err:
            raise SignerError(
                f"no Ape account {alias!r}: create it with `ape accounts import {alias}` "
                "(or `ape accounts generate`)"
            ) from err
        if passphrase is None:
            raise SignerError(
                f"account {alias!r} is locked: set {env} for an unattended keeper (as Ape "
                "documents)"
            )
        try:
            account.set_autosign(True, passphrase=passphrase)
        except Exception as err:  # Ape raises InvalidPasswordError or AccountsError
            raise SignerError(f"account {alias!r}: the passphrase in {env} is wrong") from err
        self.alias = alias
        self._account = account
        self.address = to_checksum_address(account.address)

    def sign_transaction(self, tx: dict[str, Any]) -> Signed:
        """Sign a transaction dict (chainId, nonce, gas, to, value, data, and maxFeePerGas +
        maxPriorityFeePerGas (type 2) or gasPrice (legacy)) through Ape."""
        from ape import networks

        fields = dict(tx)
        if "data" in fields and isinstance(fields["data"], str):
            fields["data"] = bytes.fromhex(fields["data"].removeprefix("0x"))
        fields.setdefault("type", 2 if "maxFeePerGas" in fields else 0)
        fields["sender"] = self.address
        txn = networks.ethereum.create_transaction(**fields)
        signed = self._account.sign_transaction(txn)
        if signed is None or not signed.signature:
            raise SignerError(f"Ape account {self.alias!r} did not sign the transaction")
        raw = bytes(signed.serialize_transaction())
        return Signed(raw, keccak(raw))


def keeper_signer(account: str | None, force_raw_key: bool, url: str) -> Any:
    """The keeper's signer: the Ape account `account`; else a raw key from `AMMLAB_KEEPER_KEY`
    (development chains only unless `force_raw_key`); else, on a development chain, anvil's
    dev key of the keeper role (account 3 of the test mnemonic)."""
    if account:
        return ApeAccountSigner(account)
    from sim.chain.node import rpc_client

    client = str(rpc_client(url).call("web3_clientVersion"))
    if key := os.environ.get(KEY_ENV):
        return raw_key_signer(key, client, force_raw_key)
    if not is_dev_chain(client):
        raise SignerError(
            f"no signer for a live keeper on {client.split('/')[0]!r}: sign with an Ape account "
            f"(--account ALIAS; APE_ACCOUNTS_<ALIAS>_PASSPHRASE for unattended runs)"
        )
    from keeper.txmanager import keeper_private_key

    return raw_key_signer(keeper_private_key(3), client)
