"""web3.py on one node: calls, contract transactions, anvil's cheat methods, one-line errors.

The node side's client for everything that is not a block of a chain run (which goes through
`sim.chain.blockbuilder` in one batched request): deploying and seeding suites, placing the
mainnet preset, trading a fork. Its web3.py instance and its raw `rpc` share one
`sim.chain.rpc.Rpc`: one provider, one keep-alive session.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from sim.chain.artifacts import Artifact
from sim.chain.rpc import Rpc
from sim.errors import ChainError


class Chain:
    """web3.py on one node (anvil for the `anvil_*` methods), every failure one line.

    Args:
        rpc_url: the node's HTTP JSON-RPC URL.
        error: the exception class failures are raised as (a `ChainError` by default; the
            mainnet preset raises its own).
    """

    def __init__(self, rpc_url: str, error: type[Exception] = ChainError):
        self.url = rpc_url
        self.error = error
        self.client = Rpc(rpc_url, timeout=60, hint="start anvil or fix the URL")
        self.w3 = Web3(self.client.provider)

    def rpc(self, method: str, params: list | None = None) -> Any:
        """One raw call; a refusal or an unreachable node raises `error` in one line."""
        try:
            return self.client.call(method, params)
        except ChainError as err:
            if isinstance(err, self.error):
                raise
            raise self.error(str(err)) from err

    def senders(self, *accounts: str) -> Impersonation:
        return Impersonation(self, accounts)

    def fund(self, account: str, wei: int) -> None:
        """Give `account` at least `wei` of ETH."""
        if self.w3.eth.get_balance(account) < wei:
            self.rpc("anvil_setBalance", [account, hex(wei)])

    def send(self, call: Any, sender: str, step: str, value: int = 0) -> Any:
        """Send a contract call from `sender`; the receipt, or a PresetError naming `step`."""
        try:
            tx_hash = call.transact({"from": sender, "value": value})
        except (ContractLogicError, Web3RPCError) as err:
            raise self.error(f"{step}: {node_message(err)}") from err
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        if receipt.status != 1:
            raise self.error(f"{step}: transaction {tx_hash.to_0x_hex()} reverted")
        return receipt

    def contract(self, address: str, artifact: Artifact) -> Any:
        return self.w3.eth.contract(address=address, abi=artifact.abi)


class Impersonation:
    """Unlock the senders for the preset (they need not be the node's own accounts)."""

    def __init__(self, chain: Chain, accounts: tuple[str, ...]):
        self.chain, self.accounts = chain, accounts

    def __enter__(self) -> None:
        for account in self.accounts:
            self.chain.rpc("anvil_impersonateAccount", [account])

    def __exit__(self, *exc: object) -> None:
        for account in self.accounts:
            self.chain.rpc("anvil_stopImpersonatingAccount", [account])


def node_message(err: Exception) -> str:
    """The node's own words for a failure: the JSON-RPC error's message, first line only."""
    response = getattr(err, "rpc_response", None) or {}
    text = (response.get("error") or {}).get("message") or getattr(err, "message", None)
    return str(text or err or type(err).__name__).splitlines()[0]
