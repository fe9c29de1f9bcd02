"""Read the market through standard interfaces, one batched round of eth_calls per tick.

Interfaces read (function signatures, encoded with eth_abi through `sim.chain.abi`, so any
contract that speaks them works, a real mainnet pair or feed on a mainnet fork included):

- a pool, by its venue kind (`keeper.venues`): the Uniswap V2 pair interface (ammlab's pool
  or a genuine UniswapV2Pair: `getReserves()`, `token0()`/`token1()`, the cumulative prices,
  `totalSupply()`, `balanceOf(lp account)`), or a genuine UniswapV3Pool (`slot0()`,
  `liquidity()`, `fee()`, `tickSpacing()`, `tickBitmap`, `ticks`, `observe`, and its
  factory's `getPool`/`feeAmountTickSpacing`);
- Chainlink AggregatorV3: `latestRoundData()`, `decimals()`;
- ERC20: `balanceOf(keeper)`, `decimals()`;
- the options pool: `liveBoardIds(i)`, `boards(id)`, `strikes(id)`, `totalGreeks()`,
  `boardGreeks(id)`;
- the perp: `position(keeper)`, `skew()`, `fundingRate()`, `oraclePrice()`, `skewScale()`,
  `takerFeeBps()`, `maxFundingRate()`.

Every call of a tick is pinned to one block number and sent in one JSON-RPC batch
(`sim.chain.rpc`) together with the block header and the keeper's ETH balance. The options pool's
board and strike ids, and each V3 pool's bitmap words and initialised ticks, are cached: when
the live boards or a board's strikes changed since the last tick, or a V3 price left its centre
word or its bitmap shows other ticks, a follow-up round fetches the new ones (rare; the first
read of a V3 pool takes two rounds).

Facts read once (`check`): every token's and the feed's `decimals()`, each pool's tokens
(they must be the configured base and quote) and, for a genuine pool, that its factory made it
and knows its fee tier. A venue that fails says so in one line naming its config field.

The result is a pure, frozen `MarketSnapshot`: everything the strategy needs, nothing that
talks to a chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from eth_utils import to_checksum_address

from keeper import ranges
from keeper.calls import Call
from keeper.venues import v2, v3
from keeper.venues.base import PoolRef, VenueError
from keeper.venues.v2 import PoolSnapshot
from keeper.venues.v3 import V3PoolSnapshot, WordsAndTicks
from sim.chain.rpc import Rpc
from sim.decisions.book import OptionPositions
from sim.errors import ChainError
from sim.venues.options.twin import Board, Strike
from sim.venues.perp.twin import VenueState

__all__ = ["Call", "PoolSnapshot", "V3PoolSnapshot", "PoolRef"]

WAD = 10**18
"""The options pool's and the perp's fixed-point unit (their contracts' wad)."""
MAX_BOARDS = 8
"""The options pool's bound on live boards (`MAX_BOARDS` in OptionsPool.vy)."""
ROUNDS = 4
"""Most batched rounds one read takes (caches of boards, strikes and V3 ticks refreshed)."""


# --------------------------------------------------------------------------- snapshot


@dataclass(frozen=True)
class Addresses:
    """The resolved addresses the reader and the executor use (checksummed)."""

    base_token: str
    quote_token: str
    feed: str
    keeper: str
    lp_account: str
    pools: dict[str, PoolRef]
    """Venue name -> the pool, its kind and router."""
    options_pool: str | None = None
    perp: str | None = None
    position_manager: str | None = None
    """NonfungiblePositionManager of the keeper's concentrated position (`keeper.ranges`)."""

    @property
    def routers(self) -> tuple[str, ...]:
        """Every router a pool leg goes through, once each, in the pools' order."""
        return tuple(dict.fromkeys(p.router for p in self.pools.values()))

    @property
    def factories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.factory for p in self.pools.values() if p.factory))


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
    quote_decimals: int
    """The quote token's `decimals()` (the margin's unit)."""

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
    board_greeks: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    """The same per live board (`OptionsPool.boardGreeks`), wad."""
    perp: PerpSnapshot | None = None
    oracle_round_id: int = 0
    """The feed's latest round id (`latestRoundData`), for reading earlier rounds."""
    v3_pools: tuple[V3PoolSnapshot, ...] = ()
    """Uniswap V3 pools (`pools` holds those with the V2 pair interface)."""
    position: ranges.PositionSnapshot | None = None
    """The keeper's concentrated position (`ChainReader.position`), when it has one."""
    base_token: str = ""
    quote_token: str = ""

    @property
    def spot(self) -> float:
        """Oracle price, whole quote per whole base."""
        return self.oracle_answer / 10**self.oracle_decimals

    @property
    def all_pools(self) -> tuple[PoolSnapshot | V3PoolSnapshot, ...]:
        return (*self.pools, *self.v3_pools)

    def pool(self, name: str) -> PoolSnapshot | V3PoolSnapshot:
        for p in self.all_pools:
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
    """Reads `MarketSnapshot`s over JSON-RPC at `url` (see the module docstring).

    `twap_window_s`: each V3 pool's `observe` also reaches this far back (0: not asked)."""

    def __init__(
        self, url: str, addresses: Addresses, timeout: float = 30.0, twap_window_s: int = 0
    ):
        self.url = url
        self.addresses = addresses
        self.twap_window_s = twap_window_s
        self.batch = Rpc(url, timeout=timeout)
        """The client; every round is one batched request (no retries: the runtime waits for
        the node and re-checks the chain when it is lost)."""
        self._static: dict[str, Any] | None = None
        self._board_ids: tuple[int, ...] = ()
        self._strike_ids: dict[int, tuple[int, ...]] = {}
        self._v3_read: dict[str, WordsAndTicks] = {}
        self.position: tuple[str, int] | None = None
        """(venue, token id) of the keeper's concentrated position to read, if any."""
        self._position_ticks: dict[int, tuple[int, int] | None] = {}
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
        for ref in a.pools.values():
            kind = v3 if ref.kind == "univ3" else v2
            calls += kind.static_calls(ref, a.base_token, a.quote_token)
        if a.perp:
            calls.append(Call("perp_quote", a.perp, "quoteToken()", ("address",)))
        return calls

    def check(self) -> dict[str, Any]:
        """Read and check the static facts (module docstring); raises one line naming the
        config field of a venue that is not what it says. Cached after the first success."""
        if self._static is None:
            a = self.addresses
            calls = self._static_calls()
            self.rounds += 1
            results = self.batch.many_or_none([c.rpc("latest") for c in calls])
            static = {}
            for c, r in zip(calls, results, strict=True):
                if r is None or r == "0x":
                    raise VenueError(
                        f"{c.signature} on {c.to} failed: is it the contract the config says? "
                        "(check the keeper config's addresses and venues)"
                    )
                value = c.decode(r)
                static[c.label] = value if len(c.out) > 1 else value[0]
            for ref in a.pools.values():
                kind = v3 if ref.kind == "univ3" else v2
                static[f"base0:{ref.name}"] = kind.check_static(
                    ref, static, a.base_token, a.quote_token
                )
                if ref.kind == "univ3":
                    self._v3_read[ref.name] = v3.first_words(ref, static)
            if a.perp and to_checksum_address(static["perp_quote"]) != a.quote_token:
                raise VenueError(
                    f"venues.perp: the perp at {a.perp} settles in {static['perp_quote']}, not "
                    f"the quote token {a.quote_token}"
                )
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
        for ref in a.pools.values():
            if ref.kind == "univ3":
                read = self._v3_read[ref.name]
                calls += v3.tick_calls(ref, self._static, read, self.twap_window_s)
            else:
                calls += v2.tick_calls(ref, a.lp_account)
        if self.position is not None and a.position_manager:
            name, token = self.position
            calls += ranges.position_calls(a.position_manager, name, a.pools[name].address,
                                           token, self._position_ticks.get(token))  # fmt: skip
        if a.options_pool:
            op = a.options_pool
            calls += [
                Call(f"live:{i}", op, "liveBoardIds(uint256)", ("uint256",), ("uint256",), (i,),
                     optional=True)
                for i in range(MAX_BOARDS)
            ]  # fmt: skip
            calls.append(
                Call("greeks", op, "totalGreeks()", ("int256", "int256", "int256", "int256"))
            )
            calls += [
                Call(f"board:{b}", op, "boards(uint256)",
                     ("(uint256,uint256,uint256,bool,bool,uint256,uint256[])",), ("uint256",), (b,))
                for b in board_ids
            ]  # fmt: skip
            calls += [
                Call(f"board_greeks:{b}", op, "boardGreeks(uint256)",
                     ("int256", "int256", "int256", "int256"), ("uint256",), (b,))
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
                if c.optional:
                    out[c.label] = None
                    continue
                raise ChainError(f"eth_call {c.signature} on {c.to} failed at block {block}")
            out[c.label] = c.decode(r)
        return header, int(balance, 16), out

    def _boards_stale(self, out: dict[str, Any]) -> bool:
        """Whether the live boards or their strikes differ from the cached ones (the cache is
        updated: boards new this tick get their strikes in the next round)."""
        if not self.addresses.options_pool:
            return False
        live = tuple(out[f"live:{i}"][0] for i in range(MAX_BOARDS) if out[f"live:{i}"])
        seen = {b: out[f"board:{b}"][0] for b in self._board_ids}
        stale = live != self._board_ids or any(
            tuple(seen[b][6]) != self._strike_ids.get(b) for b in live if b in seen
        )
        if stale:
            self._board_ids = live
            for b, board in seen.items():
                self._strike_ids[b] = tuple(board[6])
        return stale

    def _v3_stale(self, out: dict[str, Any]) -> bool:
        stale = False
        for ref in self.addresses.pools.values():
            if ref.kind != "univ3":
                continue
            read = self._v3_read[ref.name]
            need = v3.next_read(ref, self._static, out, read)
            if need != read:
                self._v3_read[ref.name], stale = need, True
        return stale

    def _position_stale(self, out: dict[str, Any]) -> bool:
        """Whether this round read the position's range ends (its token's first read)."""
        if self.position is None or not self.addresses.position_manager:
            return False
        token = self.position[1]
        seen = ranges.position_ticks(out)
        stale = self._position_ticks.get(token, -1) != seen
        self._position_ticks[token] = seen
        return stale

    def read(self, block: int | None = None) -> MarketSnapshot:
        """A snapshot at `block` (default: the latest), normally in one batched request."""
        static = self.check()
        if block is None:
            block = self.block_number()
        tag = hex(block)
        for _ in range(ROUNDS):
            strike_ids = [s for b in self._board_ids for s in self._strike_ids.get(b, ())]
            header, balance, out = self._round(tag, self._board_ids, strike_ids)
            boards_stale = self._boards_stale(out)
            if not (self._v3_stale(out) or boards_stale or self._position_stale(out)):
                break
        else:
            raise ChainError("the options pool's boards or a V3 pool's ticks kept changing")
        return self._snapshot(static, header, balance, out)

    def _snapshot(self, static, header, balance, out) -> MarketSnapshot:
        a = self.addresses
        bd, qd = static["base_decimals"], static["quote_decimals"]
        pools, v3_pools = [], []
        for ref in a.pools.values():
            base0 = static[f"base0:{ref.name}"]
            if ref.kind == "univ3":
                v3_pools.append(v3.snapshot(ref, static, out, self._v3_read[ref.name], base0,
                                            bd, qd, self.twap_window_s))  # fmt: skip
            else:
                pools.append(v2.snapshot(ref, out, base0, bd, qd))
        boards: dict[int, Board] = {}
        strikes: dict[int, Strike] = {}
        greeks = None
        board_greeks: dict[int, tuple[int, int, int, int]] = {}
        if a.options_pool:
            greeks = tuple(out["greeks"])
            for b in self._board_ids:
                board_greeks[b] = tuple(out[f"board_greeks:{b}"])
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
            board_greeks=board_greeks,
            total_greeks=greeks,
            perp=perp,
            oracle_round_id=round_id,
            v3_pools=tuple(v3_pools),
            position=ranges.position_snapshot(out, *self.position)
            if self.position is not None and a.position_manager
            else None,
            base_token=a.base_token,
            quote_token=a.quote_token,
        )
