"""Turn a plan's legs into transactions and send them exactly once, or only log them.

Live: for each leg, `Journal.record_intent` under an idempotency key (the leg's venue, the
block hash it was planned on, its target contract), then `TxManager.execute(intent,
precheck)`, where `precheck` re-reads fresh state (oracle, base fee, ETH balance) and runs the
guards (`keeper.guards.run_guards`) and the kill switch's order check just before signing.
Keys carry the block hash, so a keeper that crashes and re-plans the same block gets the same
intent back, and a fresh fork that reuses a block number gets a new one.

A leg whose venue itself said no, by reverting in the pre-send simulation (e.g. the perp's
open-interest cap reached, a pool's depth gone) or on chain (nonce consumed, nothing traded),
comes back with `venue_fault` set; the runtime re-plans the rest of the hedge without that
venue in the same tick, or pauses when no venue is left (`keeper.runtime`).

Dry run: the same plan and calldata are logged, nothing is journaled or signed.

Each leg is encoded by its venue kind (`keeper.venues`): ammlab's Router.vy for a `cpmm`
pool, UniswapV2Router02's path form for a genuine V2 pair, SwapRouter's exact-input/output
single swaps for a genuine V3 pool, `modifyPosition` for the perp.

Set-up, once at start (live): approvals of the base and quote tokens to every router the
pools' legs go through (and to the position manager of a `range` position) and of the quote
token to the perp, and the perp margin topped up to
`margin_quote`, each only where the chain shows it is missing, each through the journal and
the manager like a hedge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keeper.config import KeeperConfig
from keeper.guards import GuardInputs, run_guards
from keeper.journal import Journal
from keeper.journal_records import intent_key
from keeper.killswitch import KillSwitch, order_allowed
from keeper.reader import Addresses, MarketSnapshot
from keeper.strategy import Plan
from keeper.txmanager import ForeignSignerError, SimulationRevert, TxError, TxManager
from keeper.venues import gas, perp, v2, v3
from keeper.venues.base import GWEI, LegPlan
from sim.chain.abi import decode, encode_call
from sim.chain.rpc import Rpc

MAX_UINT256 = 2**256 - 1


def leg_call(leg: LegPlan, addresses: Addresses) -> tuple[str, str]:
    """(to, calldata) of a leg, by its venue kind."""
    if leg.kind == "perp":
        return perp.encode(leg)
    router = addresses.pools[leg.venue].router
    kind = v3 if leg.kind == "univ3" else v2
    return kind.encode(leg, router, addresses.keeper)


def swap_meta(leg: LegPlan) -> dict[str, Any]:
    """A pool leg's exact amounts as the twin planned them (base units of each token), for
    the log and the journal; nothing for a perp leg."""
    if leg.kind == "perp":
        return {}
    meta = {"token_in": leg.token_in, "token_out": leg.token_out, "amount_in": leg.amount_in,
            "amount_out": leg.amount_out}  # fmt: skip
    if leg.kind == "univ3":
        meta |= {"fee_pips": leg.fee_pips, "sqrt_price_limit_x96": leg.sqrt_price_limit_x96}
    return meta


def gas_allowance(leg: LegPlan, snap: MarketSnapshot) -> int:
    """The leg's worst-path gas allowance (`keeper.venues.gas`); a V3 leg's from the pool's
    price and tick spacing in the snapshot it was planned on."""
    if leg.kind != "univ3":
        return gas.leg_allowance(leg)
    pool = snap.pool(leg.venue)
    return gas.leg_allowance(leg, pool.sqrt_price_x96, pool.tick_spacing)


@dataclass(frozen=True)
class LegResult:
    venue: str
    size: float
    status: str
    """mined | failed | refused | dry_run | ..."""
    intent_id: int | None = None
    tx_hash: str | None = None
    reason: str = ""
    venue_fault: str = ""
    """Why the venue reverted (simulation or on chain); empty when it did not."""


@dataclass(frozen=True)
class Fresh:
    """State re-read just before signing."""

    now: int
    base_fee_wei: int
    oracle_price: float
    oracle_updated_at: int
    native_wei: int


class Executor:
    """Sends (live) or logs (dry run) the legs of plans. See the module docstring."""

    def __init__(
        self,
        cfg: KeeperConfig,
        addresses: Addresses,
        journal: Journal,
        killswitch: KillSwitch,
        log: Callable[..., None],
        txm: TxManager | None = None,
        reference_price: Callable[[], float | None] = lambda: None,
        oracle_decimals: int = 8,
    ):
        self.cfg = cfg
        self.addresses = addresses
        self.journal = journal
        self.killswitch = killswitch
        self.log = log
        self.txm = txm
        self.reference_price = reference_price
        self.oracle_decimals = oracle_decimals
        self.batch = Rpc(txm.chain.url, timeout=30.0) if txm else None

    @property
    def live(self) -> bool:
        return self.txm is not None

    # -- fresh state and the precheck ---------------------------------------------------

    def fresh(self) -> Fresh:
        a = self.addresses
        header, balance, rnd = self.batch.many([
            ("eth_getBlockByNumber", ["latest", False]),
            ("eth_getBalance", [a.keeper, "latest"]),
            ("eth_call", [{"to": a.feed, "data": encode_call("latestRoundData()")}, "latest"]),
        ])  # fmt: skip
        _, answer, _, updated, _ = decode(["uint80", "int256", "uint256", "uint256", "uint80"], rnd)
        return Fresh(
            now=int(header["timestamp"], 16),
            base_fee_wei=int(header.get("baseFeePerGas") or "0x0", 16),
            oracle_price=answer / 10**self.oracle_decimals,
            oracle_updated_at=updated,
            native_wei=int(balance, 16),
        )

    def precheck_for(self, leg: LegPlan | None, hedge: float, gas_units: int, allowance: int = 0):
        """The TxManager precheck of one leg: guards on fresh state, then the kill switch.
        The gas guard prices the limit the manager will set (`keeper.venues.gas`) from the
        planned `gas_units` and the method's worst-path `allowance`."""
        limit = gas.planned_limit(gas_units, self.cfg.safety.tx.gas_limit_multiplier, allowance)
        limits = self.cfg.safety.guards
        tip = self.cfg.safety.tx.priority_fee_gwei * GWEI

        def precheck(intent) -> tuple[str, str] | None:
            f = self.fresh()
            gas_price = f.base_fee_wei + int(tip)
            inputs = GuardInputs(
                now=f.now,
                notional=intent.notional,
                used_last_hour=self.journal.notional_since(time.time() - 3600, intent.id),
                oracle_price=f.oracle_price,
                oracle_updated_at=f.oracle_updated_at,
                reference_price=self.reference_price(),
                execution_price=leg.expected_price if leg else None,
                is_buy=bool(leg and leg.size > 0),
                gas_price_wei=gas_price,
                gas_cost_wei=int(limit * (2 * f.base_fee_wei + tip)),
                native_balance_wei=f.native_wei,
            )  # fmt: skip
            report = run_guards(inputs, limits)
            if report.action == "refuse":
                worst = report.objections[0]
                return worst.guard, report.reason
            if leg is None:
                return None
            if report.action == "reduce_only":
                ok, why = order_allowed("reduce_only", hedge, leg.size)
                if not ok:
                    return "reduce_only", f"{report.reason}; {why}"
            ok, why = self.killswitch.allows(hedge, leg.size)
            return None if ok else ("killswitch", why)

        return precheck

    # -- sending ------------------------------------------------------------------------

    def _send(self, key_id: str, snap: MarketSnapshot, to: str, data: str, kind: str,
              notional: float, meta: dict[str, Any], precheck, expires_at: float | None):  # fmt: skip
        key = intent_key(f"{key_id}:{snap.block_hash}", snap.block, to)
        intent = self.journal.record_intent(
            key, account=self.txm.address, chain_id=self.txm.chain_id or self.cfg.chain_id,
            to=to, data=data, kind=kind, notional=notional, meta=meta, expires_at=expires_at,
        )  # fmt: skip
        try:
            final = self.txm.execute(intent, precheck)
        except SimulationRevert as err:
            return self.journal.intent(intent.id), err.reason, f"simulation: {err.reason}"
        except ForeignSignerError as err:
            self.foreign_signer(err)
            return self.journal.intent(intent.id), str(err), ""
        except TxError as err:
            return self.journal.intent(intent.id), str(err), ""
        reverted = final.status == "failed" and any(
            a.receipt is not None for a in self.journal.attempts(final.id)
        )
        return final, final.error or "", (final.error or "reverted on chain") if reverted else ""

    def foreign_signer(self, err: ForeignSignerError) -> None:
        """Another signer uses the keeper's account: pause (cause foreign_signer) until the
        operator resumes; nothing more is signed meanwhile."""
        self.killswitch.trip("paused", "foreign_signer", str(err))
        self.log("foreign_signer", error=str(err))

    def execute(self, plan: Plan, snap: MarketSnapshot) -> list[LegResult]:
        results = []
        hedge = plan.hedge
        for leg in plan.legs:
            to, data = leg_call(leg, self.addresses)
            meta = {"venue": leg.venue, "kind": leg.kind, "size": leg.size,
                    "expected_price": leg.expected_price,
                    "limit": leg.amount_limit or leg.acceptable_price, "deadline": leg.deadline,
                    "block": snap.block, **swap_meta(leg)}  # fmt: skip
            if not self.live:
                self.log("leg", mode="dry_run", to=to, data=data, **meta)
                results.append(LegResult(leg.venue, leg.size, "dry_run"))
                continue
            allowance = gas_allowance(leg, snap)
            meta["gas_allowance"] = allowance
            intent, reason, fault = self._send(
                f"hedge:{leg.venue}", snap, to, data, "hedge", leg.notional_quote, meta,
                self.precheck_for(leg, hedge, leg.gas_units, allowance),
                expires_at=time.time() + self.cfg.execution.deadline_s,
            )  # fmt: skip
            attempts = self.journal.attempts(intent.id)
            tx_hash = attempts[-1].tx_hash if attempts else None
            self.log("leg", mode="live", status=intent.status, intent=intent.id, tx=tx_hash,
                     reason=reason, venue_fault=fault, **meta)  # fmt: skip
            results.append(
                LegResult(leg.venue, leg.size, intent.status, intent.id, tx_hash, reason, fault)
            )
            if intent.status == "mined":
                hedge += leg.size
        return results

    # -- set-up ---------------------------------------------------------------------------

    def setup_calls(self, snap: MarketSnapshot) -> list[tuple[str, str, str, float]]:
        """(name, to, calldata, notional) of the set-up transactions still needed."""
        a = self.addresses
        spenders = (*a.routers, *([a.position_manager] if a.position_manager else []))
        checks = [(token, r) for r in spenders for token in (a.base_token, a.quote_token)]
        if a.perp and self.cfg.venues.perp.enabled:
            checks.append((a.quote_token, a.perp))
        results = self.batch.many([
            ("eth_call", [{"to": token, "data": encode_call("allowance(address,address)",
             ["address", "address"], [a.keeper, spender])}, "latest"]) for token, spender in checks
        ]) if self.batch else ["0x0"] * len(checks)  # fmt: skip
        calls = []
        for (token, spender), allowance in zip(checks, results, strict=True):
            if int(allowance, 16) < 2**200:
                calls.append((f"approve:{token}:{spender}", token, encode_call(
                    "approve(address,uint256)", ["address", "uint256"], [spender, MAX_UINT256]), 0.0))  # fmt: skip
        if a.perp and self.cfg.venues.perp.enabled and snap.perp is not None:
            want = int(self.cfg.venues.perp.margin_quote * 10**snap.quote_decimals)
            if snap.perp.margin < want // 2:
                amount = min(want - snap.perp.margin, snap.keeper_quote)
                if amount > 0:
                    calls.append(("margin", a.perp, encode_call("depositMargin(uint256)", ["uint256"],
                                  [amount]), amount / 10**snap.quote_decimals))  # fmt: skip
        return calls

    def setup(self, snap: MarketSnapshot) -> list[LegResult]:
        results = []
        for name, to, data, notional in self.setup_calls(snap):
            if not self.live:
                self.log("setup", mode="dry_run", step=name, to=to, data=data)
                results.append(LegResult(name, 0.0, "dry_run"))
                continue
            # Set-up moves no risk: only the gas and balance guards matter (notional 0).
            intent, reason, _ = self._send(f"setup:{name}", snap, to, data, "setup", 0.0,
                                        {"step": name, "amount_quote": notional},
                                        self.precheck_for(None, 0.0, 100_000), None)  # fmt: skip
            self.log("setup", mode="live", step=name, status=intent.status, reason=reason)
            results.append(LegResult(name, 0.0, intent.status, intent.id, None, reason))
        return results
