"""What a pulled history folder holds: the events, their tables and columns.

The puller (`sim.chain.history`) writes one Parquet table per event and the readers here read
them; both take the columns from this one list. Every event row carries where it happened
(`block_number`, `block_timestamp`, `block_hash`, `transaction_hash`, `transaction_index`,
`log_index`, `address`) and then the event's own fields under their ABI names, raw: integers
of at most 63 bits as int64, wider ones (uint112 reserves, uint256 amounts, uint160 prices,
int256 answers) as decimal strings, exact; addresses checksummed. Fields with a unit also get
a float64 `<name>_human` column in decoded units: token amounts over 10**decimals of their
token (read from the token), feed answers over 10**decimals of the feed, sqrt prices as the
price of token0 in token1.

Events: Uniswap V2 pairs (Sync, Swap, Mint, Burn, and the LP token's mints and burns, i.e.
Transfer from or to the zero address), Uniswap V3 pools (every event of v3-core's
IUniswapV3PoolEvents) and Chainlink-style aggregators (AnswerUpdated, NewRound).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak

FORMAT = "ammlab-history/1"
"""`format` of a pulled folder's manifest.json."""
MANIFEST = "manifest.json"
JOURNAL = "journal.sqlite"
BLOCKS = "blocks"
"""Table of the block headers the pull stored: number, hash, parent_hash, timestamp."""
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

LOG_COLUMNS = (
    "block_number",
    "block_timestamp",
    "block_hash",
    "transaction_hash",
    "transaction_index",
    "log_index",
    "address",
)
"""Where each event row happened; rows sort by (block_number, log_index)."""

V2, V3, FEED = "v2", "v3", "feed"
"""Source kinds: a Uniswap V2 pair (or a pool with its events), a V3 pool, a feed."""


@dataclass(frozen=True)
class Field:
    """One event field: ABI name and type, whether indexed, and its unit for `_human`.

    `unit` is "token0", "token1" (an amount of that token), "feed" (an answer), "sqrt_price"
    (Q64.96 sqrt of token1 per token0) or None (no human column).
    """

    name: str
    type: str
    indexed: bool = False
    unit: str | None = None

    @property
    def wide(self) -> bool:
        """Stored as a decimal string: an integer wider than int64 holds."""
        if self.type.startswith("uint"):
            return int(self.type[4:] or 256) > 63
        if self.type.startswith("int"):
            return int(self.type[3:] or 256) > 64
        return False


@dataclass(frozen=True)
class Event:
    """One event of one source kind and the table it lands in."""

    kind: str
    name: str
    table: str
    fields: tuple[Field, ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(f.type for f in self.fields)})"

    @property
    def topic0(self) -> str:
        return "0x" + keccak(text=self.signature).hex()


def _f(name: str, type_: str, indexed: bool = False, unit: str | None = None) -> Field:
    return Field(name, type_, indexed, unit)


T0, T1 = "token0", "token1"
EVENTS: tuple[Event, ...] = (
    # Uniswap V2 pair (v2-core UniswapV2Pair.sol; ammlab's ConstantProductPool emits the same)
    Event(V2, "Sync", "v2_sync", (_f("reserve0", "uint112", unit=T0),
                                  _f("reserve1", "uint112", unit=T1))),
    Event(V2, "Swap", "v2_swap", (
        _f("sender", "address", True), _f("amount0In", "uint256", unit=T0),
        _f("amount1In", "uint256", unit=T1), _f("amount0Out", "uint256", unit=T0),
        _f("amount1Out", "uint256", unit=T1), _f("to", "address", True))),
    Event(V2, "Mint", "v2_mint", (_f("sender", "address", True),
                                  _f("amount0", "uint256", unit=T0),
                                  _f("amount1", "uint256", unit=T1))),
    Event(V2, "Burn", "v2_burn", (
        _f("sender", "address", True), _f("amount0", "uint256", unit=T0),
        _f("amount1", "uint256", unit=T1), _f("to", "address", True))),
    Event(V2, "Transfer", "v2_transfer", (
        _f("from", "address", True), _f("to", "address", True), _f("value", "uint256"))),
    # Uniswap V3 pool (v3-core IUniswapV3PoolEvents)
    Event(V3, "Initialize", "v3_initialize", (_f("sqrtPriceX96", "uint160", unit="sqrt_price"),
                                              _f("tick", "int24"))),
    Event(V3, "Mint", "v3_mint", (
        _f("sender", "address"), _f("owner", "address", True), _f("tickLower", "int24", True),
        _f("tickUpper", "int24", True), _f("amount", "uint128"),
        _f("amount0", "uint256", unit=T0), _f("amount1", "uint256", unit=T1))),
    Event(V3, "Collect", "v3_collect", (
        _f("owner", "address", True), _f("recipient", "address"),
        _f("tickLower", "int24", True), _f("tickUpper", "int24", True),
        _f("amount0", "uint128", unit=T0), _f("amount1", "uint128", unit=T1))),
    Event(V3, "Burn", "v3_burn", (
        _f("owner", "address", True), _f("tickLower", "int24", True),
        _f("tickUpper", "int24", True), _f("amount", "uint128"),
        _f("amount0", "uint256", unit=T0), _f("amount1", "uint256", unit=T1))),
    Event(V3, "Swap", "v3_swap", (
        _f("sender", "address", True), _f("recipient", "address", True),
        _f("amount0", "int256", unit=T0), _f("amount1", "int256", unit=T1),
        _f("sqrtPriceX96", "uint160", unit="sqrt_price"), _f("liquidity", "uint128"),
        _f("tick", "int24"))),
    Event(V3, "Flash", "v3_flash", (
        _f("sender", "address", True), _f("recipient", "address", True),
        _f("amount0", "uint256", unit=T0), _f("amount1", "uint256", unit=T1),
        _f("paid0", "uint256", unit=T0), _f("paid1", "uint256", unit=T1))),
    Event(V3, "IncreaseObservationCardinalityNext", "v3_observation_cardinality", (
        _f("observationCardinalityNextOld", "uint16"),
        _f("observationCardinalityNextNew", "uint16"))),
    Event(V3, "SetFeeProtocol", "v3_fee_protocol", (
        _f("feeProtocol0Old", "uint8"), _f("feeProtocol1Old", "uint8"),
        _f("feeProtocol0New", "uint8"), _f("feeProtocol1New", "uint8"))),
    Event(V3, "CollectProtocol", "v3_collect_protocol", (
        _f("sender", "address", True), _f("recipient", "address", True),
        _f("amount0", "uint128", unit=T0), _f("amount1", "uint128", unit=T1))),
    # Chainlink-style aggregator (AggregatorInterface; ammlab's PriceFeed emits the same)
    Event(FEED, "AnswerUpdated", "feed_answer", (
        _f("current", "int256", True, unit="feed"), _f("roundId", "uint256", True),
        _f("updatedAt", "uint256"))),
    Event(FEED, "NewRound", "feed_round", (
        _f("roundId", "uint256", True), _f("startedBy", "address", True),
        _f("startedAt", "uint256"))),
)  # fmt: skip

TABLES = {e.table: e for e in EVENTS}
"""Event table name -> its event."""


def events_of(kind: str) -> tuple[Event, ...]:
    """The events pulled for a source of `kind` (V2, V3 or FEED)."""
    return tuple(e for e in EVENTS if e.kind == kind)


def chunk_file(table: str, start: int, end: int) -> str:
    """Path, relative to the folder, of the part of `table` for blocks start..end (inclusive)."""
    return f"{table}/{start:012d}-{end:012d}.parquet"


def parse_chunk_file(name: str) -> tuple[int, int] | None:
    """(start, end) of a part's file name, or None for anything else."""
    stem = name.removesuffix(".parquet")
    if stem == name or "-" not in stem:
        return None
    a, _, b = stem.partition("-")
    if not (a.isdigit() and b.isdigit()):
        return None
    return int(a), int(b)
