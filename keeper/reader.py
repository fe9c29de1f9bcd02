"""Read the market through standard interfaces, one batched round of eth_calls per tick.

Interfaces read (function signatures, encoded with eth_abi through `sim.chain.abi`, so any
contract that speaks them works, a real mainnet pair or feed on a mainnet fork included):

- Uniswap V2 pair: `getReserves()`, `token0()`, `price0CumulativeLast()`,
  `price1CumulativeLast()`, `totalSupply()`, `balanceOf(lp account)`;
- Chainlink AggregatorV3: `latestRoundData()`, `decimals()`;
- ERC20: `balanceOf(keeper)`, `decimals()`;
- the options pool: `liveBoardIds(i)`, `boards(id)`, `strikes(id)`, `totalGreeks()`;
- the perp: `position(keeper)`, `skew()`, `fundingRate()`, `oraclePrice()`, `skewScale()`,
  `takerFeeBps()`, `maxFundingRate()`.

Every call of a tick is pinned to one block number and sent in one JSON-RPC batch
(`sim.chain.rpc`) together with the block header and the keeper's ETH balance. The options pool's
board and strike ids are cached: when the live boards or a board's strikes changed since the
last tick, one or two follow-up rounds fetch the new ones (rare; a listing is an admin act).

The result is a pure, frozen `MarketSnapshot`: everything the strategy needs, nothing that
talks to a chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from eth_utils import to_checksum_address

from sim.chain.abi import decode, encode_call
from sim.chain.rpc import Rpc
from sim.decisions.book import OptionPositions
from sim.errors import ChainError
from sim.venues.options.twin import Board, Strike
from sim.venues.perp.twin import VenueState

WAD = 10**18
MAX_BOARDS = 8
"""The options pool's bound on live boards (`MAX_BOARDS` in OptionsPool.vy)."""


@dataclass(frozen=True)
class Call:
    """One eth_call: `label` names the result, `out` its ABI types."""

    label: str
    to: str
    signature: str
    out: tuple[str, ...]
    types: tuple[str, ...] = ()
    args: tuple[Any, ...] = ()

    def rpc(self, block: str) -> tuple[str, list]:
        data = encode_call(self.signature, self.types, self.args)
        return "eth_call", [{"to": self.to, "data": data}, block]

    def decode(self, result: str) -> tuple:
        return decode(self.out, result)


# --------------------------------------------------------------------------- snapshot


@dataclass(frozen=True)
class Addresses:
    """Resolved addresses the reader and the executor use (checksummed)."""

    base_token: str
    quote_token: str
    feed: str
    router: str
    keeper: str
    lp_account: str
    pools: dict[str, str]
    """Venue name -> pair address."""
    pool_fees_bps: dict[str, float]
    options_pool: str | None = None
    perp: str | None = None


@dataclass(frozen=True)
class PoolSnapshot:
    """One Uniswap V2 pair, with the base/quote orientation resolved. Amounts in token
    base units (wei); `price` in whole quote per whole base."""

    name: str
    address: str
    fee_bps: float
    base_is_token0: bool
    reserve_base: int
    reserve_quote: int
    block_timestamp_last: int
    price0_cumulative: int
    price1_cumulative: int
    total_supply: int
    lp_balance: int
    base_decimals: int = 18
    quote_decimals: int = 6

    @property
    def base(self) -> float:
        return self.reserve_base / 10**self.base_decimals

    @property
    def quote(self) -> float:
        return self.reserve_quote / 10**self.quote_decimals

    @property
    def price(self) -> float:
        return self.quote / self.base if self.reserve_base else float("nan")

    @property
    def lp_share(self) -> float:
        return self.lp_balance / self.total_supply if self.total_supply else 0.0

    @property
    def reserves01(self) -> tuple[int, int]:
        if self.base_is_token0:
            return self.reserve_base, self.reserve_quote
        return self.reserve_quote, self.reserve_base


@dataclass(frozen=True)
class PerpSnapshot:
    """The perp's public state and the keeper's position (the contract's units)."""

    address: str
    size: int
    """Keeper's position, wad base (signed)."""
    margin: int
    """Keeper's margin, quote base units."""
    last_price: int
    last_funding_index: int
    skew: int
    skew_scale: int
    taker_fee_bps: int
    max_funding_rate: int
    funding_rate: int
    oracle_price: int
    quote_decimals: int = 6

    @property
    def size_base(self) -> float:
        return self.size / WAD

    def venue_state(self) -> VenueState:
        return VenueState(self.oracle_price, self.skew, self.skew_scale, self.taker_fee_bps,
                          self.max_funding_rate, self.quote_decimals)  # fmt: skip


@dataclass(frozen=True)
class MarketSnapshot:
    """Everything one tick reads, at one block. Integers in the contracts' units."""

    block: int
    block_hash: str
    timestamp: int
    base_fee_wei: int
    oracle_answer: int
    oracle_decimals: int
    oracle_updated_at: int
    base_decimals: int
    quote_decimals: int
    keeper: str
    keeper_base: int
    keeper_quote: int
    keeper_native_wei: int
    pools: tuple[PoolSnapshot, ...]
    boards: dict[int, Board] = field(default_factory=dict)
    strikes: dict[int, Strike] = field(default_factory=dict)
    total_greeks: tuple[int, int, int, int] | None = None
    """The options pool's own (delta, gamma, vega, theta), wad (see `OptionsPool.totalGreeks`)."""
    perp: PerpSnapshot | None = None
    oracle_round_id: int = 0
    """The feed's latest round id (`latestRoundData`), for reading earlier rounds."""

    @property
    def spot(self) -> float:
        """Oracle price, whole quote per whole base."""
        return self.oracle_answer / 10**self.oracle_decimals

    def pool(self, name: str) -> PoolSnapshot:
        for p in self.pools:
            if p.name == name:
                return p
        raise KeyError(name)

    def option_positions(self) -> OptionPositions:
        return option_positions(self.boards, self.strikes)


def option_positions(boards: dict[int, Board], strikes: dict[int, Strike]) -> OptionPositions:
    """The options pool's own positions (pool side: long what traders sold it), one entry per
    strike and kind with open interest, IV = baseIv × skew (the pool's pricing IV).

    Accepts the twin's `Board`/`Strike` (sim.venues.options.twin) as the reader produces them, so the
    simulator and the keeper share this conversion. Settled boards are left out.
    """
    size, strike, expiry, is_call, iv = [], [], [], [], []
    for board in boards.values():
        if board.settled:
            continue
        vol = board.base_iv * 1.0 / WAD
        for sid in board.strike_ids:
            s = strikes[sid]
            for net, call in (
                (s.short_call - s.long_call, True),
                (s.short_put - s.long_put, False),
            ):
                if net == 0:
                    continue
                size.append(net / WAD)
                strike.append(s.strike / WAD)
                expiry.append(float(board.expiry))
                is_call.append(call)
                iv.append(vol * s.skew / WAD)
    return OptionPositions(
        size=np.asarray(size, dtype=float),
        strike=np.asarray(strike, dtype=float),
        expiry=np.asarray(expiry, dtype=float),
        is_call=np.asarray(is_call, dtype=bool),
        iv=np.asarray(iv, dtype=float),
    )


# --------------------------------------------------------------------------- reader


class ChainReader:
    """Reads `MarketSnapshot`s over JSON-RPC at `url` (see the module docstring)."""

    def __init__(self, url: str, addresses: Addresses, timeout: float = 30.0):
        self.url = url
        self.addresses = addresses
        self.batch = Rpc(url, timeout=timeout)
        """The client; every round is one batched request (no retries: the runtime waits for
        the node and re-checks the chain when it is lost)."""
        self._static: dict[str, Any] | None = None
        self._board_ids: tuple[int, ...] = ()
        self._strike_ids: dict[int, tuple[int, ...]] = {}
        self.rounds = 0
        """Batched requests sent so far (for tests and metrics)."""

    def block_number(self) -> int:
        self.rounds += 1
        return self.batch.block_number()

    # -- static facts, read once --------------------------------------------------------

    def _static_calls(self) -> list[Call]:
        a = self.addresses
        calls = [
            Call("feed_decimals", a.feed, "decimals()", ("uint8",)),
            Call("base_decimals", a.base_token, "decimals()", ("uint8",)),
            Call("quote_decimals", a.quote_token, "decimals()", ("uint8",)),
        ]
        calls += [
            Call(f"token0:{n}", addr, "token0()", ("address",)) for n, addr in a.pools.items()
        ]
        if a.perp:
            calls.append(Call("perp_quote", a.perp, "quoteToken()", ("address",)))
        return calls

    def _load_static(self) -> dict[str, Any]:
        if self._static is None:
            calls = self._static_calls()
            self.rounds += 1
            results = self.batch.many([c.rpc("latest") for c in calls])
            static = {c.label: c.decode(r)[0] for c, r in zip(calls, results, strict=True)}
            for name in self.addresses.pools:
                token0 = to_checksum_address(static[f"token0:{name}"])
                if token0 not in (self.addresses.base_token, self.addresses.quote_token):
                    raise ChainError(f"pool {name} holds neither the base nor the quote token")
                static[f"base0:{name}"] = token0 == self.addresses.base_token
            self._static = static
        return self._static

    # -- per tick -----------------------------------------------------------------------

    def _tick_calls(self, board_ids: tuple[int, ...], strike_ids: list[int]) -> list[Call]:
        a = self.addresses
        keeper = a.keeper
        calls = [
            Call("round", a.feed, "latestRoundData()",
                 ("uint80", "int256", "uint256", "uint256", "uint80")),
            Call("keeper_base", a.base_token, "balanceOf(address)", ("uint256",), ("address",), (keeper,)),
            Call("keeper_quote", a.quote_token, "balanceOf(address)", ("uint256",), ("address",), (keeper,)),
        ]  # fmt: skip
        for name, addr in a.pools.items():
            calls += [
                Call(f"reserves:{name}", addr, "getReserves()", ("uint112", "uint112", "uint32")),
                Call(f"cum0:{name}", addr, "price0CumulativeLast()", ("uint256",)),
                Call(f"cum1:{name}", addr, "price1CumulativeLast()", ("uint256",)),
                Call(f"supply:{name}", addr, "totalSupply()", ("uint256",)),
                Call(f"lp:{name}", addr, "balanceOf(address)", ("uint256",), ("address",),
                     (a.lp_account,)),
            ]  # fmt: skip
        if a.options_pool:
            op = a.options_pool
            calls += [
                Call(f"live:{i}", op, "liveBoardIds(uint256)", ("uint256",), ("uint256",), (i,))
                for i in range(MAX_BOARDS)
            ]
            calls.append(
                Call("greeks", op, "totalGreeks()", ("int256", "int256", "int256", "int256"))
            )
            calls += [
                Call(f"board:{b}", op, "boards(uint256)",
                     ("(uint256,uint256,uint256,bool,bool,uint256,uint256[])",), ("uint256",), (b,))
                for b in board_ids
            ]  # fmt: skip
            calls += [
                Call(f"strike:{s}", op, "strikes(uint256)",
                     ("(uint256,uint256,uint256,uint256,uint256,uint256,uint256)",), ("uint256",), (s,))
                for s in strike_ids
            ]  # fmt: skip
        if a.perp:
            p = a.perp
            calls += [
                Call("perp_position", p, "position(address)",
                     ("(int256,uint256,uint256,int256)",), ("address",), (keeper,)),
                Call("perp_skew", p, "skew()", ("int256",)),
                Call("perp_funding", p, "fundingRate()", ("int256",)),
                Call("perp_oracle", p, "oraclePrice()", ("uint256",)),
                Call("perp_scale", p, "skewScale()", ("uint256",)),
                Call("perp_fee", p, "takerFeeBps()", ("uint256",)),
                Call("perp_max_funding", p, "maxFundingRate()", ("uint256",)),
            ]  # fmt: skip
        return calls

    def _round(self, block: str, board_ids: tuple[int, ...], strike_ids: list[int]):
        calls = self._tick_calls(board_ids, strike_ids)
        requests_ = [
            ("eth_getBlockByNumber", [block, False]),
            ("eth_getBalance", [self.addresses.keeper, block]),
            *[c.rpc(block) for c in calls],
        ]
        self.rounds += 1
        raw = self.batch.many_or_none(requests_)
        header, balance, results = raw[0], raw[1], raw[2:]
        if header is None or balance is None:
            raise ChainError(f"block {block} is unknown to {self.url}")
        out: dict[str, Any] = {}
        for c, r in zip(calls, results, strict=True):
            if r is None or r == "0x":
                if c.label.startswith("live:"):
                    out[c.label] = None
                    continue
                raise ChainError(f"eth_call {c.signature} on {c.to} failed at block {block}")
            out[c.label] = c.decode(r)
        return header, int(balance, 16), out

    def read(self, block: int | None = None) -> MarketSnapshot:
        """A snapshot at `block` (default: the latest), normally in one batched request."""
        static = self._load_static()
        if block is None:
            block = self.block_number()
        tag = hex(block)
        for _ in range(3):
            strike_ids = [s for b in self._board_ids for s in self._strike_ids.get(b, ())]
            header, balance, out = self._round(tag, self._board_ids, strike_ids)
            if not self.addresses.options_pool:
                break
            live = tuple(out[f"live:{i}"][0] for i in range(MAX_BOARDS) if out[f"live:{i}"])
            boards_seen = {b: out[f"board:{b}"][0] for b in self._board_ids}
            stale = live != self._board_ids or any(
                tuple(boards_seen[b][6]) != self._strike_ids.get(b)
                for b in live
                if b in boards_seen
            )
            if not stale:
                break
            self._board_ids = live
            for b, board in boards_seen.items():
                self._strike_ids[b] = tuple(board[6])
            # Boards new this tick: their strike lists arrive in the next round.
        else:
            raise ChainError("the options pool's boards kept changing while being read")
        return self._snapshot(static, header, balance, out)

    def _snapshot(self, static, header, balance, out) -> MarketSnapshot:
        a = self.addresses
        bd, qd = static["base_decimals"], static["quote_decimals"]
        pools = []
        for name, addr in a.pools.items():
            r0, r1, ts = out[f"reserves:{name}"]
            base0 = static[f"base0:{name}"]
            pools.append(PoolSnapshot(
                name=name, address=addr, fee_bps=a.pool_fees_bps[name], base_is_token0=base0,
                reserve_base=r0 if base0 else r1, reserve_quote=r1 if base0 else r0,
                block_timestamp_last=ts, price0_cumulative=out[f"cum0:{name}"][0],
                price1_cumulative=out[f"cum1:{name}"][0], total_supply=out[f"supply:{name}"][0],
                lp_balance=out[f"lp:{name}"][0], base_decimals=bd, quote_decimals=qd,
            ))  # fmt: skip
        boards: dict[int, Board] = {}
        strikes: dict[int, Strike] = {}
        greeks = None
        if a.options_pool:
            greeks = tuple(out["greeks"])
            for b in self._board_ids:
                e, iv, cap, frozen, settled, sspot, sids = out[f"board:{b}"][0]
                boards[b] = Board(e, iv, cap, frozen, settled, sspot, list(sids))
                for s in sids:
                    strikes[s] = Strike(*out[f"strike:{s}"][0])
        perp = None
        if a.perp:
            size, margin, last_price, last_index = out["perp_position"][0]
            perp = PerpSnapshot(
                address=a.perp, size=size, margin=margin, last_price=last_price,
                last_funding_index=last_index, skew=out["perp_skew"][0],
                skew_scale=out["perp_scale"][0], taker_fee_bps=out["perp_fee"][0],
                max_funding_rate=out["perp_max_funding"][0], funding_rate=out["perp_funding"][0],
                oracle_price=out["perp_oracle"][0], quote_decimals=qd,
            )  # fmt: skip
        round_id, answer, _, updated_at, _ = out["round"]
        return MarketSnapshot(
            block=int(header["number"], 16),
            block_hash=header["hash"],
            timestamp=int(header["timestamp"], 16),
            base_fee_wei=int(header.get("baseFeePerGas") or "0x0", 16),
            oracle_answer=answer,
            oracle_decimals=static["feed_decimals"],
            oracle_updated_at=updated_at,
            base_decimals=bd,
            quote_decimals=qd,
            keeper=a.keeper,
            keeper_base=out["keeper_base"][0],
            keeper_quote=out["keeper_quote"][0],
            keeper_native_wei=balance,
            pools=tuple(pools),
            boards=boards,
            strikes=strikes,
            total_greeks=greeks,
            perp=perp,
            oracle_round_id=round_id,
        )
