"""The transaction manager: one account, local signing, same-nonce replacement, exactly once.

One `TxManager` per keeper account. `open()` takes an OS lock on the chain and account
(`keeper.account.AccountLock`: an flock on `<lock dir>/<chain id>-<block 0>-<address>.lock`,
the lock dir machine-wide, `$AMMLAB_LOCK_DIR` or the system's temp folder, never a keeper's
home; a second manager on that chain and account, in this or any process, under any home, is
refused with the pid that holds it), checks that the node is on the journal's chain (`check_chain`), reconciles
the journal against the chain (`Journal.reconcile`), checks that no other signer uses the
account (`check_signer`) and only then sets its next nonce to the larger of the chain's pending
count and the journal's highest open nonce + 1.

Another signer (`check_signer`, at `open()`, on every keeper tick and before each signature):
a lock cannot see another machine, the chain can. The first live start adopts the account's
nonce (what came before is not the journal's); from then on every nonce the chain has used,
pending transactions included, must be one the journal signed. One beyond is another signer's:
`ForeignSignerError` names the account, the nonce and the transaction (found by bisecting the
account's nonce over the blocks, or in the pending block), and the journal records it, so that
once the operator has stopped the other signer and resumed, the keeper goes on from there.

Chain identity (`check_chain`, at `open()` and again whenever the RPC answers after an
outage): the node's chain id and block-0 hash must be those the journal recorded at its first
start, and the node must hold the newest transaction of ours the journal saw included (its
receipt, and an account nonce past it). Otherwise the node was reset (a fresh anvil: new
block 0), is another chain, or was rolled back below our history (a fresh fork of the same
upstream: same block 0, our transactions gone); `ChainResetError` says which, and nothing is
rebroadcast or sent there.

For each intent (`Journal.record_intent`, done by the keeper):

    submit(intent, precheck)   precheck (the guards, on fresh state) -> eth_call simulation
                               (refused on revert, with the reason, journaled `refused`)
                               -> gas limit (`_gas_limit`) -> fees -> sign locally
                               -> journal `signed`
                               -> eth_sendRawTransaction -> journal `sent`
    wait(intent_id)            poll receipts of every attempt; a transaction not mined within
                               `stuck_blocks` blocks or `stuck_s` seconds is replaced with the
                               same nonce and every fee field x `gas_bump` (>= 1.125, geometric,
                               capped by `max_fee_cap_gwei`), journaled before it is sent; a
                               receipt with status 0 is journaled `failed` (nonce consumed)
    execute(intent, precheck)  submit + wait

Fees. EIP-1559 (default): maxPriorityFeePerGas = `priority_fee_gwei`, maxFeePerGas =
2 x latest base fee + tip; a replacement multiplies both by `gas_bump` (rounded up) and
raises the max fee to at least 2 x the current base fee + the new tip, so it is includable
now. Legacy (`fee_mode: legacy`): gasPrice = eth_gasPrice, bumped the same way. Anvil and
geth refuse a replacement that does not raise both fields by >= 10 %; 12.5 % is the floor here.
When the cap leaves no room for a full bump the manager stops replacing and waits.

The manager talks to the node through `sim.chain.rpc.Rpc` (`rpc_client`): transient failures
(connection refused or reset, timeouts, HTTP 5xx) are retried with exponential backoff and
jitter for up to `rpc_retry_budget_s`, with the pooled sockets dropped each time, so a node
restart in between is survived; the first answer after such an outage runs `check_chain`
before anything else. JSON-RPC errors (the node answered "no") are never retried blindly.

Fault injection for the chaos tests (`AMMLAB_CHAOS_STOP_AT`, see `chaos_stop`): inert unless
that variable is set; a test sets it to freeze a real keeper process at one stage of one
intent and kill -9 it there.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address

from keeper.account import AccountLock, default_lock_dir, find_transaction
from keeper.errors import TxError
from keeper.journal import Journal
from keeper.journal_reconcile import ReconcileReport, settle
from keeper.journal_records import Attempt, Intent, SignedTx
from keeper.safety_config import TxLimits
from keeper.venues import gas as gas_rules
from sim.chain.abi import decode, selector
from sim.chain.rpc import Backoff, Rpc, RpcRefused
from sim.errors import ChainError

GWEI = 10**9
ERROR_STRING_SELECTOR = "0x" + selector("Error(string)")


class ForeignSignerError(TxError):
    """The account's nonce moved past what the journal signed: another signer uses it."""


class SimulationRevert(TxError):
    """The pre-send eth_call reverted; nothing was signed."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class TxTimeout(TxError):
    """`wait` gave up; the intent stays `sent` and the next reconcile picks it up."""


class ChainResetError(ChainError):
    """The node is not on the journal's chain (reset, rolled back, or another chain)."""


# --------------------------------------------------------------------------- RPC


def rpc_client(url: str, limits: TxLimits) -> Rpc:
    """The manager's JSON-RPC client: transport failures retried for `rpc_retry_budget_s`
    (see the module docstring)."""
    backoff = Backoff(
        limits.rpc_retry_budget_s, limits.rpc_backoff_initial_s, limits.rpc_backoff_max_s
    )
    return Rpc(
        url, limits.rpc_timeout_s, backoff, hint="check the node; the journal keeps the state"
    )


def revert_reason(err: RpcRefused) -> str:
    """The revert reason of a failed eth_call/estimateGas (Error(string) decoded)."""
    data = err.data
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith(ERROR_STRING_SELECTOR):
        try:
            return decode(["string"], "0x" + data[10:])[0]
        except Exception:  # noqa: BLE001 - a malformed payload falls back to the message
            pass
    msg = err.rpc_message
    return msg.split("execution reverted:", 1)[-1].strip() if "reverted" in msg else msg


# --------------------------------------------------------------------------- fees


def _ceil_mul(value: int, factor: Fraction) -> int:
    return max(value + 1, math.ceil(value * factor))


def initial_fees(limits: TxLimits, base_fee: int, gas_price: int) -> dict[str, int]:
    """Fee fields of a first attempt (see the module docstring)."""
    cap = int(limits.max_fee_cap_gwei * GWEI)
    if limits.fee_mode == "legacy":
        return {"gasPrice": min(gas_price, cap)}
    tip = int(limits.priority_fee_gwei * GWEI)
    max_fee = min(2 * base_fee + tip, cap)
    return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": min(tip, max_fee)}


def bumped_fees(
    limits: TxLimits, previous: Attempt, base_fee: int, gas_price: int
) -> dict[str, int] | None:
    """Fee fields of a replacement of `previous`, or None when the cap forbids a full bump."""
    cap = int(limits.max_fee_cap_gwei * GWEI)
    bump = Fraction(str(limits.gas_bump))
    if previous.fee_mode == "legacy":
        need = _ceil_mul(previous.gas_price or 0, bump)
        price = min(max(need, gas_price), cap)
        return {"gasPrice": price} if price >= need else None
    need_tip = _ceil_mul(previous.priority_fee or 0, bump)
    need_max = _ceil_mul(previous.max_fee or 0, bump)
    max_fee = min(max(need_max, 2 * base_fee + need_tip), cap)
    if max_fee < need_max or max_fee < need_tip:
        return None
    return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": need_tip}


# --------------------------------------------------------------------------- fault injection

CHAOS_ENV = "AMMLAB_CHAOS_STOP_AT"
CHAOS_STAGES = ("intent", "signed", "sent")
StageHook = Callable[[str, Intent], None]


def chaos_stop(spec: str | None) -> StageHook | None:
    """The stage hook `AMMLAB_CHAOS_STOP_AT=STAGE[:KIND]` asks for, or None when unset.

    Test-only fault injection. STAGE is where an intent is durable in the journal: `intent`
    (recorded, nothing signed), `signed` (signed transaction journaled, not sent), `sent` (the
    node accepted it, not mined); KIND optionally limits it to one intent kind (`hedge`,
    `setup`). When an intent reaches it, the process prints `CHAOS stopped at STAGE ...` on
    stderr and sleeps until it is killed (the chaos tests kill -9 it there).
    """
    if not spec:
        return None
    stage, _, kind = spec.partition(":")
    if stage not in CHAOS_STAGES:
        raise TxError(
            f"{CHAOS_ENV}={spec!r}: use intent, signed or sent, optionally :KIND (e.g. "
            "sent:hedge); it is a test hook, unset it to run normally"
        )

    def hook(name: str, intent: Intent) -> None:
        if name != stage or (kind and intent.kind != kind):
            return
        print(f"CHAOS stopped at {name} (intent #{intent.id}, {intent.kind}, pid {os.getpid()})",
              file=sys.stderr, flush=True)  # fmt: skip
        while True:  # frozen here until killed
            time.sleep(3600)

    return hook


def _no_hook(stage: str, intent: Intent) -> None:
    return None


# --------------------------------------------------------------------------- the manager

Precheck = Callable[[Intent], "tuple[str, str] | None"]
"""Called just before signing with the intent; returns (guard, reason) to refuse, else None."""


class TxManager:
    """Sends one account's intents exactly once. See the module docstring."""

    def __init__(
        self,
        rpc: Rpc | str,
        signer: Any,
        journal: Journal,
        lock_dir: str | os.PathLike | None = None,
        limits: TxLimits | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_stage: StageHook | None = None,
    ):
        self.limits = limits or TxLimits()
        self.chain = rpc if isinstance(rpc, Rpc) else rpc_client(rpc, self.limits)
        self.chain.on_reconnect = self._after_outage
        # A key (tests, dev chains) or a signer (`keeper.signer`: an Ape account): anything
        # with `address` and `sign_transaction(tx) -> (raw_transaction, hash)`.
        self._account = Account.from_key(signer) if isinstance(signer, str | bytes) else signer
        self.address = to_checksum_address(self._account.address)
        self.journal = journal
        self.lock_dir = Path(lock_dir) if lock_dir is not None else default_lock_dir()
        self.lock: AccountLock | None = None
        """Taken by `open()`, once the node has said which chain it is."""
        self.clock = clock
        self.sleep = sleep
        self.on_stage = on_stage or chaos_stop(os.environ.get(CHAOS_ENV)) or _no_hook
        """Called with (stage, intent) once a stage is durable: intent, signed, sent."""
        self.chain_id: int | None = None
        self._next_nonce: int | None = None
        self._noted: set[str] = set()

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> ReconcileReport:
        """Lock the chain and account, check the chain is the journal's, reconcile the journal
        with the chain, check no other signer uses the account, set the next nonce."""
        identity = self._node_identity()
        chain_id, genesis = identity
        self.lock = AccountLock(self.lock_dir, self.address, f"{chain_id}-{genesis[2:14]}")
        self.lock.acquire()
        try:
            self.check_chain(identity)
            report = self.reconcile()
            self.check_signer()
        except BaseException:
            self.lock.release()
            raise
        return report

    def reconcile(self) -> ReconcileReport:
        """Settle every open intent against the chain, then re-derive the next nonce."""
        report = self.journal.reconcile(self.chain, self.address)
        self._sync_nonce()
        return report

    def check_chain(self, identity: tuple[int, str] | None = None) -> None:
        """Raise ChainResetError unless the node is on the journal's chain (see the module
        docstring); the first check records the chain in the journal. `identity`: the node's
        (chain id, block-0 hash) when just read."""
        chain_id, genesis = identity or self._node_identity()
        known = self.journal.record_chain_identity(chain_id, genesis, self.chain.block_number())
        node = f"the node at {self.chain.url}"
        aside = f"move {self.journal.path} aside to start afresh on this chain"
        if (known.chain_id, known.genesis_hash) != (chain_id, genesis):
            raise ChainResetError(
                f"{node} is chain {chain_id} with block 0 {str(genesis)[:12]}…, but the journal "
                f"was written on chain {known.chain_id} with block 0 {known.genesis_hash[:12]}…:"
                f" the node was reset or is another chain; nothing is sent. Point the keeper at "
                f"the journal's chain, or {aside}"
            )
        last = self.journal.last_on_chain(self.address)
        if last is not None:
            nonce = self.chain.nonce(self.address, "latest")
            if nonce <= last.nonce or self.chain.receipt(last.tx_hash) is None:
                raise ChainResetError(
                    f"{node} lacks the keeper's transaction {last.tx_hash} (nonce {last.nonce}, "
                    f"block {last.mined_block}) that the journal saw included (account nonce "
                    f"there: {nonce}): the chain was reset or rolled back, e.g. a fresh fork; "
                    f"nothing is sent. Point the keeper at the journal's chain, or {aside}"
                )
        self.chain_id = chain_id

    def _node_identity(self) -> tuple[int, str]:
        """(chain id, block-0 hash) of the node."""
        genesis = (self.chain.call("eth_getBlockByNumber", ["0x0", False]) or {}).get("hash")
        return self.chain.chain_id(), str(genesis)

    def check_signer(self) -> None:
        """Raise ForeignSignerError when the account's nonce, pending transactions included,
        is past every nonce the journal signed (see the module docstring); the first live
        start adopts the chain's nonce instead."""
        pending = self.chain.nonce(self.address, "pending")
        known = self.journal.known_next_nonce(self.address)
        if known is None:
            self.journal.record_outside(self.address, pending)
            return
        if pending <= known:
            return
        identity = self.journal.chain_identity()
        since = identity.first_block if identity else 0
        found = [(n, *find_transaction(self.chain, self.address, n, since))
                 for n in range(known, pending)]  # fmt: skip
        self.journal.record_outside(self.address, pending, found)
        nonce, tx_hash, block = found[0]
        what = ("a transaction not found on the node" if tx_hash is None
                else f"transaction {tx_hash} ({'pending' if block is None else f'block {block}'})")  # fmt: skip
        more = f" (and {len(found) - 1} more after it)" if len(found) > 1 else ""
        raise ForeignSignerError(
            f"another signer uses account {self.address}: nonce {nonce} went to {what}{more}, "
            "which this keeper's journal did not send; the keeper pauses (cause "
            "foreign_signer). Stop the other signer, then `ammlab keeper resume`"
        )

    def _after_outage(self, down_s: float) -> None:
        self.check_chain()
        self.journal.note(None, None, f"RPC answered again after {down_s:.1f} s; same chain")

    def close(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> TxManager:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sync_nonce(self) -> int:
        pending = self.chain.nonce(self.address, "pending")
        top = self.journal.max_open_nonce(self.address)
        self._next_nonce = max(pending, (top + 1) if top is not None else 0)
        return self._next_nonce

    @property
    def next_nonce(self) -> int:
        if self._next_nonce is None:
            raise TxError("the manager is not open: call open() (it reconciles first)")
        return self._next_nonce

    # ------------------------------------------------------------------ intents

    def submit(self, intent: Intent, precheck: Precheck | None = None) -> Intent:
        """Simulate, sign, journal and send a planned intent; returns it (sent, or refused).

        A signed or sent intent is returned as it is (idempotent); a final one too.
        Raises SimulationRevert when the eth_call reverts (the intent is journaled refused).
        """
        if self.lock is None or not self.lock.held:
            raise TxError("the manager is not open: call open() (it reconciles first)")
        intent = self.journal.intent(intent.id)
        if intent.status != "planned":
            return intent
        if intent.account != self.address or intent.chain_id != self.chain_id:
            raise TxError(
                f"intent #{intent.id} is for {intent.account} on chain {intent.chain_id}, "
                f"this manager is {self.address} on chain {self.chain_id}"
            )
        self.on_stage("intent", intent)
        if precheck is not None and (refusal := precheck(intent)) is not None:
            guard, reason = refusal
            return self.journal.refuse(intent.id, guard, reason)

        call = {"from": self.address, "to": intent.to, "data": intent.data,
                "value": hex(intent.value)}  # fmt: skip
        block = self.limits.simulate_block
        try:
            self.chain.call("eth_call", [call, block])
            gas = self.chain.call("eth_estimateGas", [call, block])
        except RpcRefused as err:
            reason = revert_reason(err)
            self.journal.refuse(intent.id, "simulation", reason)
            raise SimulationRevert(
                f"intent #{intent.id} would revert ({reason}): refused, nothing sent", reason
            ) from err
        gas_limit = self._gas_limit(call, int(gas, 16), intent)

        pending = self.chain.nonce(self.address, "pending")
        if pending > self.next_nonce:  # not ours, unless the journal knows it
            try:
                self.check_signer()
            except ForeignSignerError as err:
                self.journal.refuse(intent.id, "foreign_signer", str(err))
                raise
        nonce = max(self.next_nonce, pending)
        fees = initial_fees(self.limits, self.chain.base_fee(), self._legacy_price())
        signed = self._sign(intent, nonce, gas_limit, fees)
        self._next_nonce = nonce + 1
        self.journal.record_signed(intent.id, signed, self.address)
        intent = self.journal.intent(intent.id)
        self.on_stage("signed", intent)
        try:
            self.chain.send_raw(signed.raw)
        except RpcRefused as err:
            if self.chain.transaction(signed.tx_hash) or self.chain.receipt(signed.tx_hash):
                pass  # it did get in (a retried send answered "nonce too low")
            else:
                failed = self.journal.record_send_refused(signed.tx_hash, err.rpc_message)
                self._sync_nonce()  # the node never took it: its nonce is still free
                return failed
        self.journal.mark_sent(signed.tx_hash, block=self.chain.block_number())
        intent = self.journal.intent(intent.id)
        self.on_stage("sent", intent)
        return intent

    def wait(self, intent_id: int, timeout: float | None = None) -> Intent:
        """Poll until the intent is final, replacing stuck attempts; returns the final intent.

        Raises TxTimeout after `timeout` (default `wait_timeout_s`); nothing is lost.
        """
        deadline = self.clock() + (timeout if timeout is not None else self.limits.wait_timeout_s)
        while True:
            intent = self.journal.intent(intent_id)
            if intent.final or intent.status == "planned":
                return intent
            attempts = self.journal.attempts(intent_id)
            outcome = settle(self.journal, self.chain, intent, attempts)
            if outcome in ("mined", "failed", "dropped"):
                return self.journal.intent(intent_id)
            live = [a for a in self.journal.attempts(intent_id) if a.status in ("sent", "signed",
                                                                                "replaced")]  # fmt: skip
            if live and self._stuck(live[-1]):
                self._replace(intent, attempts)
            if self.clock() > deadline:
                raise TxTimeout(
                    f"intent #{intent_id} not mined within the wait: still pending, the journal"
                    " keeps it for the next reconcile"
                )
            self.sleep(self.limits.poll_s)

    def execute(
        self, intent: Intent, precheck: Precheck | None = None, timeout: float | None = None
    ) -> Intent:
        """`submit` then `wait`: the intent's final state."""
        intent = self.submit(intent, precheck)
        return intent if intent.final else self.wait(intent.id, timeout)

    def resume(self, report: ReconcileReport, precheck: Precheck | None = None) -> list[Intent]:
        """After `open()`: wait on the pending intents, then execute the planned ones
        (re-running `precheck` on fresh state), in journal order."""
        done = [self.wait(i) for i in report.pending + report.rebroadcast]
        for intent_id in report.to_resume:
            try:
                done.append(self.execute(self.journal.intent(intent_id), precheck))
            except SimulationRevert:
                done.append(self.journal.intent(intent_id))
        return done

    # ------------------------------------------------------------------ internals

    def _gas_limit(self, call: dict[str, str], estimate: int, intent: Intent) -> int:
        """estimate × `gas_limit_multiplier`; for an intent whose meta carries a
        `gas_allowance` (its method's worst path in the next blocks, `keeper.venues.gas`), at
        least the estimate one block and one second later + that allowance. A node that
        refuses the block override gives the plain estimate."""
        allowance = int(intent.meta.get("gas_allowance", 0))
        if allowance <= 0:
            return gas_rules.gas_limit(estimate, 0, self.limits.gas_limit_multiplier, 0)
        head = self.chain.call("eth_getBlockByNumber", ["latest", False])
        later = {"number": hex(int(head["number"], 16) + 1),
                 "time": hex(int(head["timestamp"], 16) + 1)}  # fmt: skip
        try:
            estimate_next = int(
                self.chain.call("eth_estimateGas", [call, self.limits.simulate_block, {}, later]),
                16,
            )
        except RpcRefused:
            estimate_next = estimate
        return gas_rules.gas_limit(
            estimate, estimate_next, self.limits.gas_limit_multiplier, allowance
        )

    def _legacy_price(self) -> int:
        return self.chain.gas_price() if self.limits.fee_mode == "legacy" else 0

    def _sign(self, intent: Intent, nonce: int, gas_limit: int, fees: dict[str, int]) -> SignedTx:
        tx = {"chainId": self.chain_id, "nonce": nonce, "to": to_checksum_address(intent.to),
              "value": intent.value, "data": intent.data, "gas": gas_limit, **fees}  # fmt: skip
        if "maxFeePerGas" in fees:
            tx["type"] = 2
        signed = self._account.sign_transaction(tx)
        return SignedTx(
            tx_hash="0x" + bytes(signed.hash).hex(),
            raw="0x" + bytes(signed.raw_transaction).hex(),
            nonce=nonce,
            gas_limit=gas_limit,
            fee_mode="eip1559" if "maxFeePerGas" in fees else "legacy",
            gas_price=fees.get("gasPrice"),
            max_fee=fees.get("maxFeePerGas"),
            priority_fee=fees.get("maxPriorityFeePerGas"),
        )

    def _stuck(self, attempt: Attempt) -> bool:
        if attempt.sent_at is None:
            return False
        if self.clock() - attempt.sent_at >= self.limits.stuck_s:
            return True
        if attempt.sent_block is None:
            return False
        return self.chain.block_number() - attempt.sent_block >= self.limits.stuck_blocks

    def _note_once(self, intent: Intent, tx_hash: str | None, detail: str) -> None:
        if (key := f"{intent.id}:{detail}") not in self._noted:
            self._noted.add(key)
            self.journal.note(intent.id, tx_hash, detail)

    def _replace(self, intent: Intent, attempts: list[Attempt]) -> Attempt | None:
        """Sign and send a same-nonce replacement of the dearest attempt so far."""
        if len(attempts) - 1 >= self.limits.max_replacements:
            self._note_once(intent, None, f"{self.limits.max_replacements} replacements: waiting")
            return None
        live = [a for a in attempts if a.status in ("sent", "signed", "replaced")]
        dearest = max(attempts, key=lambda a: (a.fee_cap, a.id))
        fees = bumped_fees(self.limits, dearest, self.chain.base_fee(), self._legacy_price())
        if fees is None:
            self._note_once(
                intent, dearest.tx_hash, "fee cap reached: no room for a full bump, waiting"
            )
            return None
        signed = self._sign(intent, dearest.nonce, dearest.gas_limit, fees)
        # Write-ahead: were we to crash after sending, the journal must know this hash.
        attempt = self.journal.record_replacement(intent.id, live[-1].tx_hash, signed)
        try:
            self.chain.send_raw(signed.raw)
        except RpcRefused as err:
            if self.chain.receipt(dearest.tx_hash) is None:
                self.journal.record_send_refused(signed.tx_hash, err.rpc_message)
            return None
        return self.journal.mark_sent(
            attempt.tx_hash, block=self.chain.block_number(), detail=f"replaces {dearest.tx_hash}"
        )


def keeper_private_key(index: int = 3) -> str:
    """The private key of anvil's / Ape's test account `index` (3 is the keeper role)."""
    Account.enable_unaudited_hdwallet_features()
    mnemonic = "test test test test test test test test test test test junk"
    acct = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
    return "0x" + bytes(acct.key).hex()
