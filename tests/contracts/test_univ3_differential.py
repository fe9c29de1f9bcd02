"""The Uniswap V3 twin against the genuine v3-core 1.0.1 pool bytecode, on anvil.

A Hypothesis state machine drives a fresh genuine pool (fee 3000 / spacing 60, or fee 500 /
spacing 10) and `sim.venues.univ3.twin.UniswapV3Pool` with the same steps: mints over random
ranges for several owners (some ranges invalid, some over the per-tick cap, some underpaid),
swaps both ways, exact input and exact output, with and without a price limit (some limits
invalid, some underpaid), burns (partial, full, too much, zero-liquidity pokes), collects, time
passing (across the uint32 wrap of block.timestamp), observation cardinality growth, oracle
reads, protocol fee switches and collections. Each step must succeed on both with the same
return values, or revert on both with the same reason string; after every step slot0,
liquidity, fee growth, protocol fees, every tick used (all fields), the bitmap words of those
ticks, every position used (all fields), the observations up to the cardinality and the pool's
token balances must be equal.

Speed: the state machine has an anvil of its own (Ape's traces every EVM step, which makes a
swap across hundreds of bitmap words take a second to mine); steps go to it as raw JSON-RPC (an ``eth_call`` first, to learn the revert reason; the
transaction only when it succeeds), the state is read in one JSON-RPC batch per step, and each
example starts from an ``evm_snapshot`` of the deployment. Blocks keep the same timestamp until a
``wait`` step moves it (``anvil_setBlockTimestampInterval 0``), so several steps may share one
block time, as transactions in one block do.

A failure is reproducible: the examples are derandomised (the same steps on every run and
machine), there is no example database, and Hypothesis prints the shrunk failing steps
(``state.mint(...)``, ``state.swap(...)``, ...; shrinking can take a few minutes). Rerun with
``pytest tests/contracts/test_univ3_differential.py -k state_machine``; the session prints the
operation count, the ticks crossed, the waits across the uint32 wrap and every outcome's count.

The periphery tests deploy QuoterV2, SwapRouter and NonfungiblePositionManager through Ape on
Ape's own anvil and check that their quotes, swaps and position changes match the twin.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field

import ape
import pytest
import requests
from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address
from ethpm_types import ContractType
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sim.chain.artifacts import load_artifact
from sim.chain.node import find_anvil, free_port
from sim.errors import Revert
from sim.venues.univ3.periphery import (
    count_initialized_ticks_crossed,
    liquidity_for_amounts,
    quote_exact_input_single,
    quote_exact_output_single,
)
from sim.venues.univ3.twin import UniswapV3Pool, position_key
from sim.venues.univ3.v3math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    UINT128_MAX,
    get_sqrt_ratio_at_tick,
)

pytestmark = pytest.mark.chain

FUNDS = 2**200
"""Tokens of each kind the payer contract and each owner start with, base units."""
GAS = 15_000_000
"""Gas of every call and transaction: ample, so that no step fails for gas alone."""
MAX_FEE = 100 * 10**9
"""Wei per gas: far above anvil's base fee, which climbs after big blocks, so no transaction
waits in the pool."""
T0 = 2**32 - 3_600
"""Block time each example starts at, seconds: a long wait or two cross the uint32 wrap."""
MIN_OPERATIONS = 10_000
"""Operations the state machine must run per test session."""
EXAMPLES = 130
STEPS = 100
"""Examples and steps per example: about 11,000 operations, ~70 s here."""
POOL_FEES = (3000, 500)

OPERATIONS = {"count": 0, "seconds": 0.0, "ticks_crossed": 0, "uint32_wraps": 0}
"""Operations run by the state machine in this session, its wall time, the initialised ticks
its swaps crossed and the waits that took block.timestamp past 2**32."""
OUTCOMES: Counter[tuple[str, str]] = Counter()
"""(operation, 'ok' or the revert reason) -> how often, to show what the examples reached."""


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


SEL = {
    name: _selector(sig)
    for name, sig in {
        "slot0": "slot0()",
        "liquidity": "liquidity()",
        "fg0": "feeGrowthGlobal0X128()",
        "fg1": "feeGrowthGlobal1X128()",
        "protocolFees": "protocolFees()",
        "ticks": "ticks(int24)",
        "tickBitmap": "tickBitmap(int16)",
        "positions": "positions(bytes32)",
        "observations": "observations(uint256)",
        "balanceOf": "balanceOf(address)",
        "initialize": "initialize(uint160)",
        "burn": "burn(int24,int24,uint128)",
        "collect": "collect(address,int24,int24,uint128,uint128)",
        "grow": "increaseObservationCardinalityNext(uint16)",
        "observe": "observe(uint32[])",
        "snapshot": "snapshotCumulativesInside(int24,int24)",
        "setFeeProtocol": "setFeeProtocol(uint8,uint8)",
        "collectProtocol": "collectProtocol(address,uint128,uint128)",
        "calleeMint": "mint(address,address,int24,int24,uint128,uint256)",
        "calleeSwap": "swap(address,address,bool,int256,uint160,uint256)",
    }.items()
}
SEL_NAMES = {selector: name for name, selector in SEL.items()}
ERROR_STRING = _selector("Error(string)")


def _count(operation: str, reason: str | None) -> None:
    OPERATIONS["count"] += 1
    OUTCOMES[operation, "ok" if reason is None else repr(reason)] += 1


# --- raw JSON-RPC -------------------------------------------------------------------------


class Rpc:
    """JSON-RPC over one HTTP session; `batch` sends many calls in one request."""

    def __init__(self, uri: str):
        self.uri = uri
        self.session = requests.Session()

    def __call__(self, method: str, *params):
        reply = self.session.post(
            self.uri, json={"jsonrpc": "2.0", "id": 0, "method": method, "params": list(params)}
        ).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def batch(self, calls: list[tuple[str, list]]) -> list[dict]:
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
            for i, (method, params) in enumerate(calls)
        ]
        replies = self.session.post(self.uri, json=payload).json()
        return sorted(replies, key=lambda r: r["id"])


def revert_reason(error: dict) -> str:
    """The reason string of a reverted call ('' for a revert without one)."""
    data = bytes.fromhex((error.get("data") or "0x")[2:])
    if not data:
        if "revert" not in error.get("message", ""):
            raise RuntimeError(f"not a revert: {error}")
        return ""
    assert data[:4] == ERROR_STRING, f"unexpected revert data {data.hex()}"
    return decode(["string"], data[4:])[0]


def words(result: str) -> list[int]:
    """The 32-byte words of a call's return data, as uint256."""
    return [int(result[i : i + 64], 16) for i in range(2, len(result), 64)]


def signed(x: int) -> int:
    return x - (1 << 256) if x >> 255 else x


@dataclass
class V3Env:
    """The deployment on anvil: tokens, factory, the pools, the payer contract, accounts."""

    rpc: Rpc
    factory_owner: str
    owners: list[str]
    token0: str
    token1: str
    pools: dict[int, str]
    callee: str
    snapshot: str = ""
    nonces: dict[str, int] = field(default_factory=dict)
    sent: int = 0

    def transact(self, sender: str, to: str, data: bytes) -> tuple[str | None, str]:
        """Run one transaction: ``(None, return data)``, or ``(reason, '')`` if it reverts.

        An ``eth_call`` on the latest state first (the next block has the same timestamp, so
        it behaves the same); a reverted step sends nothing.
        """
        tx = {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(GAS)}
        reply = self.rpc.batch([("eth_call", [tx, "latest"])])[0]
        if "error" in reply:
            return revert_reason(reply["error"]), ""
        nonce = self.nonces[sender]
        self.nonces[sender] = nonce + 1
        # A replayed example would resend a transaction with the hash of one mined before the
        # revert, which anvil then never mines again: a fee unique to this sending avoids it.
        self.sent += 1
        fees = {"maxFeePerGas": hex(MAX_FEE + self.sent), "maxPriorityFeePerGas": "0x0"}
        tx_hash = self.rpc("eth_sendTransaction", {**tx, **fees, "nonce": hex(nonce)})
        receipt = self.wait_receipt(tx_hash)
        assert int(receipt["status"], 16) == 1, f"{tx_hash} failed after its call succeeded"
        return None, reply["result"]

    def wait_receipt(self, tx_hash: str) -> dict:
        """The receipt of `tx_hash`: anvil may answer before its automine has stored it."""
        deadline = time.monotonic() + 60
        while (receipt := self.rpc("eth_getTransactionReceipt", tx_hash)) is None:
            assert time.monotonic() < deadline, f"{tx_hash} was not mined"
            time.sleep(0.001)
        return receipt

    def view(self, to: str, data: bytes) -> tuple[str | None, str]:
        """An ``eth_call`` on the latest state: ``(None, return data)`` or ``(reason, '')``."""
        tx = {"to": to, "data": "0x" + data.hex(), "gas": hex(GAS)}
        reply = self.rpc.batch([("eth_call", [tx, "latest"])])[0]
        if "error" in reply:
            return revert_reason(reply["error"]), ""
        return None, reply["result"]

    def block_time(self) -> int:
        return int(self.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)

    def set_time(self, timestamp: int) -> None:
        """Mine an empty block at `timestamp`; later blocks keep it until the next call."""
        self.rpc("evm_setNextBlockTimestamp", timestamp)
        self.rpc("evm_mine")

    def reset(self) -> None:
        """Back to the last `reset` (after `deploy_v3`: pools uninitialised, block time `T0`)."""
        if self.snapshot:
            assert self.rpc("evm_revert", self.snapshot)
        self.snapshot = self.rpc("evm_snapshot")
        # A transaction left pending by a failed example must not be mined into the next one.
        self.rpc("anvil_dropAllTransactions")
        # anvil's pool keeps counting nonces past a revert: give them explicitly.
        for sender in (self.factory_owner, *self.owners):
            self.nonces[sender] = int(self.rpc("eth_getTransactionCount", sender, "latest"), 16)


# --- reading the pool whole -------------------------------------------------------------


class StateReader:
    """The comparable state of a pool, from the chain (one batch) and from the twin."""

    def __init__(self, env: V3Env, pool: str):
        self.env = env
        self.pool = pool
        self._calldata: dict[tuple, str] = {}

    def _data(self, kind: str, *args) -> str:
        key = (kind, *args)
        data = self._calldata.get(key)
        if data is None:
            types = {
                "ticks": ["int24"],
                "tickBitmap": ["int16"],
                "positions": ["bytes32"],
                "observations": ["uint256"],
                "balanceOf": ["address"],
            }.get(kind, [])
            data = "0x" + (SEL[kind] + encode(types, list(args))).hex()
            self._calldata[key] = data
        return data

    def chain(
        self, ticks: list[int], word_list: list[int], positions: list[tuple], n_obs: int
    ) -> dict:
        pool = self.pool
        calls: list[tuple[str, str]] = [
            (pool, self._data("slot0")),
            (pool, self._data("liquidity")),
            (pool, self._data("fg0")),
            (pool, self._data("fg1")),
            (pool, self._data("protocolFees")),
            (self.env.token0, self._data("balanceOf", pool)),
            (self.env.token1, self._data("balanceOf", pool)),
        ]
        calls += [(pool, self._data("ticks", t)) for t in ticks]
        calls += [(pool, self._data("tickBitmap", w)) for w in word_list]
        calls += [(pool, self._data("positions", position_key(*p))) for p in positions]
        calls += [(pool, self._data("observations", i)) for i in range(n_obs)]
        replies = self.env.rpc.batch(
            [("eth_call", [{"to": to, "data": data}, "latest"]) for to, data in calls]
        )
        out = [words(r["result"]) for r in replies]
        slot0 = out[0]
        slot0[1] = signed(slot0[1])
        state = {
            "slot0": tuple(slot0),
            "liquidity": out[1][0],
            "fee_growth_global": (out[2][0], out[3][0]),
            "protocol_fees": tuple(out[4]),
            "balances": (out[5][0], out[6][0]),
        }
        i = 7
        for t in ticks:
            w = out[i]
            state[("tick", t)] = (w[0], signed(w[1]), w[2], w[3], signed(w[4]), w[5], w[6], w[7])
            i += 1
        for word in word_list:
            state[("word", word)] = out[i][0]
            i += 1
        for p in positions:
            state[("position", p)] = tuple(out[i])
            i += 1
        for k in range(n_obs):
            w = out[i]
            state[("observation", k)] = (w[0], signed(w[1]), w[2], w[3])
            i += 1
        return state

    @staticmethod
    def twin(
        twin: UniswapV3Pool,
        ticks: list[int],
        word_list: list[int],
        positions: list[tuple],
        n_obs: int,
    ) -> dict:
        state = {
            "slot0": tuple(int(x) for x in twin.slot0()),
            "liquidity": twin.liquidity,
            "fee_growth_global": (twin.fee_growth_global0_x128, twin.fee_growth_global1_x128),
            "protocol_fees": twin.protocol_fees(),
            "balances": (twin.balance0, twin.balance1),
        }
        for t in ticks:
            state[("tick", t)] = tuple(int(x) for x in twin.tick_info(t))
        for word in word_list:
            state[("word", word)] = twin.bitmap_word(word)
        for p in positions:
            state[("position", p)] = tuple(twin.position(*p))
        for k in range(n_obs):
            state[("observation", k)] = tuple(int(x) for x in twin.observation(k))
        return state


# --- deployment -------------------------------------------------------------------------


V3_CORE = "@uniswap/v3-core"
V3_PERIPHERY = "@uniswap/v3-periphery"


def v3_package(name: str) -> str:
    """The npm package that ships contract `name` (the pool and factory are core)."""
    return V3_CORE if name in ("UniswapV3Factory", "UniswapV3Pool") else V3_PERIPHERY


def genuine(name: str) -> ape.contracts.ContractContainer:
    """An Ape container of the genuine npm artifact `name` (deployed as shipped)."""
    art = load_artifact(name, v3_package(name))
    contract_type = ContractType.model_validate(
        {
            "contractName": name,
            "abi": art.abi,
            "deploymentBytecode": {"bytecode": "0x" + art.bytecode.hex()},
            "runtimeBytecode": {"bytecode": "0x" + art.runtime.hex()},
        }
    )
    return ape.contracts.ContractContainer(contract_type)


def deploy_v3(rpc: Rpc, project) -> V3Env:
    """On the chain behind `rpc`: tokens (18 and 6 decimals), the genuine factory with a 0.3 %
    and a 0.05 % pool, both uninitialised, the payer contract and four owners, all funded;
    block time `T0`, constant until moved."""
    accounts = [to_checksum_address(a) for a in rpc("eth_accounts")]
    deployer, owners = accounts[0], accounts[1:5]
    env = V3Env(rpc, deployer, owners, "", "", {}, "")

    def deploy(bytecode: str, types=(), args=()) -> str:
        tx = {
            "from": deployer,
            "data": bytecode + encode(list(types), list(args)).hex(),
            "gas": hex(GAS),
        }
        receipt = env.wait_receipt(rpc("eth_sendTransaction", tx))
        return to_checksum_address(receipt["contractAddress"])

    def send(to: str, signature: str, types, args) -> None:
        data = "0x" + (_selector(signature) + encode(types, args)).hex()
        receipt = env.wait_receipt(
            rpc("eth_sendTransaction", {"from": deployer, "to": to, "data": data, "gas": hex(GAS)})
        )
        assert int(receipt["status"], 16) == 1, signature

    env.callee = deploy(project.V3Callee.contract_type.deployment_bytecode.bytecode)
    erc20 = project.ERC20.contract_type.deployment_bytecode.bytecode
    tokens = []
    for symbol, decimals in (("TKA", 18), ("TKB", 6)):
        token = deploy(
            erc20, ["string", "string", "uint8", "address"], [symbol, symbol, decimals, deployer]
        )
        for holder in [env.callee, *owners]:
            send(token, "mint(address,uint256)", ["address", "uint256"], [holder, FUNDS])
        tokens.append(token)
    factory = deploy("0x" + load_artifact("UniswapV3Factory", V3_CORE).bytecode.hex())
    for fee in POOL_FEES:
        send(
            factory,
            "createPool(address,address,uint24)",
            ["address", "address", "uint24"],
            [*tokens, fee],
        )
        _, result = env.view(
            factory,
            _selector("getPool(address,address,uint24)")
            + encode(["address", "address", "uint24"], [*tokens, fee]),
        )
        env.pools[fee] = to_checksum_address("0x" + result[-40:])
    env.token0, env.token1 = sorted(tokens, key=lambda a: int(a, 16))
    rpc("anvil_setBlockTimestampInterval", 0)
    env.set_time(max(T0, env.block_time() + 1))
    env.reset()
    return env


@pytest.fixture(scope="session")
def v3(project):
    """`deploy_v3` on an anvil of its own: Ape's traces every EVM step, which makes a swap
    across hundreds of bitmap words take a second to mine instead of milliseconds."""
    port = free_port()
    process = subprocess.Popen(
        [find_anvil(), "--port", str(port), "--silent", "--block-base-fee-per-gas", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        rpc = Rpc(f"http://127.0.0.1:{port}")
        for _ in range(200):
            try:
                rpc("eth_chainId")
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        yield deploy_v3(rpc, project)
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- the state machine --------------------------------------------------------------------

ticks_offsets = st.integers(-25, 25)
widths = st.integers(1, 25)
range_kinds = st.sampled_from(["normal"] * 14 + ["full", "unaligned", "inverted", "low", "high"])
liquidities = st.one_of(
    st.integers(1, 10**4),
    *[st.integers(10**14, 10**22)] * 5,
    st.sampled_from(["max", "over"]),
)
shortfalls = st.sampled_from([0] * 19 + [1])
swap_amounts = st.one_of(
    st.integers(1, 10**5),
    *[st.integers(10**12, 10**21)] * 3,
    st.integers(10**21, 10**26),
)
# "zero" (amount 0), "wrong" (limit on the wrong side), "current" and "bound" must revert.
swap_kinds = st.sampled_from(["none"] * 3 + ["near"] * 15 + ["zero", "wrong", "current", "bound"])


class PoolMachine(RuleBasedStateMachine):
    """One genuine pool and its twin, driven with the same random steps."""

    env: V3Env

    def __init__(self):
        super().__init__()
        self.env.reset()
        self.twin: UniswapV3Pool | None = None
        self.time = self.env.block_time()
        self.ticks_used: set[int] = set()
        self.positions_used: list[tuple[str, int, int]] = []

    # -- plumbing ------------------------------------------------------------------------

    def _step(self, sender: str, to: str, data: bytes, twin_op, result_types=None):
        chain_reason, result = self.env.transact(sender, to, data)
        _count(SEL_NAMES[data[:4]], chain_reason)
        try:
            twin_result = twin_op()
            twin_reason = None
        except Revert as err:
            twin_reason = err.reason
        assert chain_reason == twin_reason, f"chain: {chain_reason!r}, twin: {twin_reason!r}"
        if chain_reason is None and result_types is not None:
            assert tuple(decode(result_types, bytes.fromhex(result[2:]))) == tuple(twin_result)
        return chain_reason

    def _range(self, kind: str, offset: int, width: int) -> tuple[int, int]:
        spacing = self.twin.tick_spacing
        lower = (self.twin.tick // spacing + offset) * spacing
        upper = lower + width * spacing
        if kind == "full":
            return -(MAX_TICK // spacing) * spacing, (MAX_TICK // spacing) * spacing
        if kind == "unaligned":
            return lower + 1, upper
        if kind == "inverted":
            return upper, lower
        if kind == "low":
            return MIN_TICK - 1, upper
        if kind == "high":
            return lower, MAX_TICK + 1
        # Keep ordinary ranges usable when the price sits near either end of the tick range.
        top = MAX_TICK // spacing * spacing
        shift = max(0, upper - top) - max(0, -top - lower)
        return lower - shift, upper - shift

    # -- rules ---------------------------------------------------------------------------

    @initialize(
        fee=st.sampled_from(POOL_FEES),
        tick=st.integers(-60_000, 60_000),
        jitter=st.integers(0, 2**32),
    )
    def init_pool(self, fee, tick, jitter):
        self.pool = self.env.pools[fee]
        self.reader = StateReader(self.env, self.pool)
        self.twin = UniswapV3Pool(fee, address=self.pool)
        low, high = get_sqrt_ratio_at_tick(tick), get_sqrt_ratio_at_tick(tick + 1)
        price = low + jitter * (high - low) // 2**32
        self._step(
            self.env.factory_owner,
            self.pool,
            SEL["initialize"] + encode(["uint160"], [price]),
            lambda: self.twin.initialize(price, self.time),
        )

    @rule(
        owner=st.integers(0, 3),
        kind=range_kinds,
        offset=ticks_offsets,
        width=widths,
        liquidity=liquidities,
        shortfall=shortfalls,
    )
    def mint(self, owner, kind, offset, width, liquidity, shortfall):
        self._mint(owner, kind, offset, width, liquidity, shortfall)

    @rule(
        owner=st.integers(0, 3),
        offset=st.integers(-4, 3),
        width=st.integers(1, 6),
        liquidity=st.integers(10**16, 10**21),
    )
    def mint_near_price(self, owner, offset, width, liquidity):
        """Narrow ranges at the price, so that swaps cross initialised ticks."""
        self._mint(owner, "normal", offset, width, liquidity, 0)

    def _mint(self, owner, kind, offset, width, liquidity, shortfall):
        recipient = self.env.owners[owner]
        lower, upper = self._range(kind, offset, width)
        if liquidity == "max":
            liquidity = self.twin.max_liquidity_per_tick
        elif liquidity == "over":
            liquidity = self.twin.max_liquidity_per_tick + 1
        callback = None
        if shortfall:

            def callback(pool, amount0, amount1):
                pool.transfer_in(max(amount0 - shortfall, 0), max(amount1 - shortfall, 0))

        data = SEL["calleeMint"] + encode(
            ["address", "address", "int24", "int24", "uint128", "uint256"],
            [self.pool, recipient, lower, upper, liquidity, shortfall],
        )
        reason = self._step(
            self.env.owners[owner],
            self.env.callee,
            data,
            lambda: self.twin.mint(recipient, lower, upper, liquidity, self.time, callback),
            ["uint256", "uint256"],
        )
        if reason is None:
            self.ticks_used.update((lower, upper))
            if (recipient, lower, upper) not in self.positions_used:
                self.positions_used.append((recipient, lower, upper))

    @rule(
        zero_for_one=st.booleans(),
        exact_input=st.booleans(),
        amount=swap_amounts,
        limit_kind=swap_kinds,
        limit_ticks=st.one_of(st.integers(1, 600), st.integers(1, 3000)),
        recipient=st.integers(0, 3),
        shortfall=shortfalls,
    )
    def swap(
        self, zero_for_one, exact_input, amount, limit_kind, limit_ticks, recipient, shortfall
    ):
        price, tick = self.twin.sqrt_price_x96, self.twin.tick
        if limit_kind in ("none", "zero"):
            limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
            amount = 0 if limit_kind == "zero" else amount
        elif limit_kind == "near":
            target = tick - limit_ticks if zero_for_one else tick + limit_ticks
            limit = get_sqrt_ratio_at_tick(max(MIN_TICK, min(MAX_TICK, target)))
        elif limit_kind == "wrong":
            limit = min(price + 1 + limit_ticks, MAX_SQRT_RATIO) if zero_for_one else price - 1
        elif limit_kind == "current":
            limit = price
        else:
            limit = MIN_SQRT_RATIO if zero_for_one else MAX_SQRT_RATIO
        amount_specified = amount if exact_input else -amount
        callback = None
        if shortfall:

            def callback(pool, amount0, amount1):
                pool.transfer_in(
                    max(amount0 - shortfall, 0) if amount0 > 0 else 0,
                    max(amount1 - shortfall, 0) if amount1 > 0 else 0,
                )

        data = SEL["calleeSwap"] + encode(
            ["address", "address", "bool", "int256", "uint160", "uint256"],
            [
                self.pool,
                self.env.owners[recipient],
                zero_for_one,
                amount_specified,
                limit,
                shortfall,
            ],
        )
        tick_before = self.twin.tick
        reason = self._step(
            self.env.owners[recipient],
            self.env.callee,
            data,
            lambda: self.twin.swap(zero_for_one, amount_specified, limit, self.time, callback),
            ["int256", "int256"],
        )
        if reason is None and tick_before != self.twin.tick:
            OPERATIONS["ticks_crossed"] += count_initialized_ticks_crossed(
                self.twin, tick_before, self.twin.tick
            )

    @rule(
        pick=st.integers(0, 10**6),
        fraction=st.sampled_from(["poke"] + ["part"] * 4 + ["all"] * 3 + ["over", "stranger"]),
        part=st.integers(1, 999),
    )
    def burn(self, pick, fraction, part):
        live = [p for p in self.positions_used if self.twin.position(*p).liquidity > 0]
        if live and fraction != "poke":
            owner, lower, upper = live[pick % len(live)]
        elif self.positions_used:
            owner, lower, upper = self.positions_used[pick % len(self.positions_used)]
        else:
            owner, lower, upper = (
                self.env.owners[0],
                -self.twin.tick_spacing,
                self.twin.tick_spacing,
            )
        if fraction == "stranger":
            owner = self.env.owners[(self.env.owners.index(owner) + 1) % 4]
        held = self.twin.position(owner, lower, upper).liquidity
        amount = {
            "poke": 0,
            "part": held * part // 1000,
            "all": held,
            "over": held + 1,
            "stranger": held,
        }[fraction]
        self._step(
            owner,
            self.pool,
            SEL["burn"] + encode(["int24", "int24", "uint128"], [lower, upper, amount]),
            lambda: self.twin.burn(owner, lower, upper, amount, self.time),
            ["uint256", "uint256"],
        )

    @rule(
        pick=st.integers(0, 10**6),
        how=st.sampled_from(["all", "all", "owed", "part", "zero", "one_side"]),
        part=st.integers(0, 10**18),
    )
    def collect(self, pick, how, part):
        if not self.positions_used:
            return
        owner, lower, upper = self.positions_used[pick % len(self.positions_used)]
        pos = self.twin.position(owner, lower, upper)
        request = {
            "all": (UINT128_MAX, UINT128_MAX),
            "owed": (pos.tokens_owed0, pos.tokens_owed1),
            "part": (part, part),
            "zero": (0, 0),
            "one_side": (UINT128_MAX, 0),
        }[how]
        self._step(
            owner,
            self.pool,
            SEL["collect"]
            + encode(
                ["address", "int24", "int24", "uint128", "uint128"], [owner, lower, upper, *request]
            ),
            lambda: self.twin.collect(owner, lower, upper, *request),
            ["uint128", "uint128"],
        )

    @rule(seconds=st.one_of(st.integers(0, 30), st.integers(31, 7200)))
    def wait(self, seconds):
        _count("wait", None)
        if seconds:
            OPERATIONS["uint32_wraps"] += self.time < 2**32 <= self.time + seconds
            self.time += seconds
            self.env.set_time(self.time)

    @rule(extra=st.integers(0, 6))
    def grow_observations(self, extra):
        target = min(self.twin.observation_cardinality_next + extra, 48)
        self._step(
            self.env.owners[0],
            self.pool,
            SEL["grow"] + encode(["uint16"], [target]),
            lambda: self.twin.increase_observation_cardinality_next(target),
        )

    @rule(
        per_mille=st.lists(st.integers(0, 1000), min_size=1, max_size=3),
        beyond=st.sampled_from([0] * 4 + [1, 3600]),
    )
    def observe(self, per_mille, beyond):
        """TWAP reads: points between the oldest observation and now, or `beyond` it."""
        twin = self.twin
        oldest = twin.observation((twin.observation_index + 1) % twin.observation_cardinality)
        if not oldest.initialized:
            oldest = twin.observation(0)
        span = (self.time - oldest.block_timestamp) % 2**32
        seconds_agos = [span * f // 1000 + beyond for f in per_mille]
        reason, result = self.env.view(
            self.pool, SEL["observe"] + encode(["uint32[]"], [seconds_agos])
        )
        try:
            expected = self.twin.observe(seconds_agos, self.time)
            twin_reason = None
        except Revert as err:
            twin_reason = err.reason
        _count("observe", reason)
        assert reason == twin_reason
        if reason is None:
            got = decode(["int56[]", "uint160[]"], bytes.fromhex(result[2:]))
            assert (list(got[0]), list(got[1])) == expected

    @rule(pick=st.integers(0, 10**6))
    def snapshot_inside(self, pick):
        if not self.positions_used:
            return
        _, lower, upper = self.positions_used[pick % len(self.positions_used)]
        reason, result = self.env.view(
            self.pool, SEL["snapshot"] + encode(["int24", "int24"], [lower, upper])
        )
        try:
            expected = self.twin.snapshot_cumulatives_inside(lower, upper, self.time)
            twin_reason = None
        except Revert as err:
            twin_reason = err.reason
        _count("snapshot", reason)
        assert reason == twin_reason
        if reason is None:
            assert decode(["int56", "uint160", "uint32"], bytes.fromhex(result[2:])) == expected

    @rule(
        collect=st.booleans(),
        p0=st.sampled_from([0, 3, 4, 5, 6, 10, 11]),
        p1=st.sampled_from([0, 4, 7, 10, 12]),
        request=st.sampled_from([0, 1, 10**9, UINT128_MAX]),
    )
    def protocol_fee(self, collect, p0, p1, request):
        """The factory owner switches the protocol's cut (4..10 or 0) or collects it."""
        owner = self.env.factory_owner
        if collect:
            self._step(
                owner,
                self.pool,
                SEL["collectProtocol"]
                + encode(["address", "uint128", "uint128"], [owner, request, request]),
                lambda: self.twin.collect_protocol(request, request),
                ["uint128", "uint128"],
            )
        else:
            self._step(
                owner,
                self.pool,
                SEL["setFeeProtocol"] + encode(["uint8", "uint8"], [p0, p1]),
                lambda: self.twin.set_fee_protocol(p0, p1),
            )

    # -- the comparison after every step -------------------------------------------------

    @invariant()
    @precondition(lambda self: self.twin is not None)
    def same_state(self):
        twin = self.twin
        ticks = sorted(self.ticks_used | set(twin.ticks))
        spacing = twin.tick_spacing
        word_list = sorted({(t // spacing) >> 8 for t in ticks if t % spacing == 0})
        n_obs = twin.observation_cardinality_next
        on_chain = self.reader.chain(ticks, word_list, self.positions_used, n_obs)
        assert on_chain == StateReader.twin(twin, ticks, word_list, self.positions_used, n_obs)


@pytest.mark.slow
def test_state_machine(v3, capsys):
    PoolMachine.env = v3
    start = time.perf_counter()
    run_state_machine_as_test(
        PoolMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    OPERATIONS["seconds"] += time.perf_counter() - start
    outcomes = ", ".join(f"{op} {reason}: {n}" for (op, reason), n in sorted(OUTCOMES.items()))
    with capsys.disabled():  # the figures belong in the CI log, captured or not
        print(
            f"\nuniv3 differential: {OPERATIONS['count']} operations in "
            f"{OPERATIONS['seconds']:.1f} s against the genuine pool, "
            f"{OPERATIONS['ticks_crossed']} initialised ticks crossed by swaps, "
            f"{OPERATIONS['uint32_wraps']} waits past the uint32 wrap; {outcomes}"
        )
    assert OPERATIONS["count"] >= MIN_OPERATIONS


# --- the periphery: QuoterV2, SwapRouter, NonfungiblePositionManager -----------------------

MAX_UINT256 = 2**256 - 1


def ape_reason(err: Exception) -> str:
    """The revert string of a failed Ape call ('' when the revert had none)."""
    return getattr(err, "revert_message", None) or ""


@dataclass
class Periphery:
    """The genuine periphery over one 0.3 % pool on Ape's chain, and the pool's twin."""

    env: V3Env
    user: object
    callee: object
    quoter: object
    router: object
    npm: object
    twin: UniswapV3Pool
    reader: StateReader

    def timestamp(self, receipt) -> int:
        return ape.chain.blocks[receipt.block_number].timestamp

    def assert_same_state(self, positions: list[tuple]) -> None:
        twin = self.twin
        ticks = sorted(twin.ticks)
        words_used = sorted({(t // twin.tick_spacing) >> 8 for t in ticks})
        n_obs = twin.observation_cardinality_next
        assert self.reader.chain(ticks, words_used, positions, n_obs) == StateReader.twin(
            twin, ticks, words_used, positions, n_obs
        )


@pytest.fixture
def periphery(project, accounts, chain):
    """A pool with five liquidity ranges around the price, and QuoterV2, SwapRouter and
    NonfungiblePositionManager deployed as shipped (WETH9 and the token descriptor are
    code-less addresses: no ETH path and no tokenURI is used)."""
    deployer, user = accounts[0], accounts[1]
    weth, descriptor = accounts[8].address, accounts[9].address
    callee = deployer.deploy(project.V3Callee)
    tokens = []
    for symbol, decimals in (("TKA", 18), ("TKB", 6)):
        token = deployer.deploy(project.ERC20, symbol, symbol, decimals, deployer)
        for holder in (callee, user):
            token.mint(holder, FUNDS, sender=deployer)
        tokens.append(token)
    factory = deployer.deploy(genuine("UniswapV3Factory"))
    quoter = deployer.deploy(genuine("QuoterV2"), factory, weth)
    router = deployer.deploy(genuine("SwapRouter"), factory, weth)
    npm = deployer.deploy(genuine("NonfungiblePositionManager"), factory, weth, descriptor)
    for token in tokens:
        token.approve(router, MAX_UINT256, sender=user)
        token.approve(npm, MAX_UINT256, sender=user)
    factory.createPool(tokens[0], tokens[1], 3000, sender=deployer)
    pool = factory.getPool(tokens[0], tokens[1], 3000)
    token0, token1 = sorted((t.address for t in tokens), key=lambda a: int(a, 16))
    env = V3Env(
        Rpc(chain.provider.uri),
        deployer.address,
        [user.address],
        token0,
        token1,
        {3000: pool},
        callee.address,
    )
    twin = UniswapV3Pool(3000, address=pool)
    p = Periphery(env, user, callee, quoter, router, npm, twin, StateReader(env, pool))

    pool_contract = genuine("UniswapV3Pool").at(pool)
    price = get_sqrt_ratio_at_tick(-23_028) + 12_345  # about 0.1 token1 per token0
    receipt = pool_contract.initialize(price, sender=deployer)
    twin.initialize(price, p.timestamp(receipt))
    for lower, upper, liquidity in (
        (-887_220, 887_220, 10**17),
        (-24_000, -22_020, 3 * 10**18),
        (-23_520, -22_500, 5 * 10**18),
        (-23_100, -22_980, 10**19),
        (-26_040, -20_040, 7 * 10**17),
    ):
        receipt = callee.mint(pool, user, lower, upper, liquidity, 0, sender=user)
        twin.mint(user.address, lower, upper, liquidity, p.timestamp(receipt))
    receipt = pool_contract.increaseObservationCardinalityNext(8, sender=user)
    twin.increase_observation_cardinality_next(8)
    p.assert_same_state([])
    return p


def test_quoter_v2_matches_twin_quotes(periphery):
    """quoteExactInputSingle / quoteExactOutputSingle equal the twin's quote functions
    (amount, price after, initialised ticks crossed, or the revert reason), before and after
    the price moves across the ranges."""
    p = periphery
    rng = random.Random(7)
    token0, token1 = p.env.token0, p.env.token1
    quotes = failures = 0
    for round_ in range(4):
        for _ in range(12):
            zero_for_one = rng.random() < 0.5
            exact_input = rng.random() < 0.5
            # Up to 1e24: beyond the pool's depth, exact outputs without a limit cannot fill.
            amount = rng.choice([0, int(10 ** rng.uniform(0, 24))])
            tick = p.twin.tick + rng.randint(1, 3000) * (-1 if zero_for_one else 1)
            wrong_side = p.twin.sqrt_price_x96 + (1 if zero_for_one else -1)
            limit = rng.choice([0, 0, get_sqrt_ratio_at_tick(tick), wrong_side])
            token_in, token_out = (token0, token1) if zero_for_one else (token1, token0)
            params = (token_in, token_out, amount, 3000, limit)
            name = "quoteExactInputSingle" if exact_input else "quoteExactOutputSingle"
            twin_quote = quote_exact_input_single if exact_input else quote_exact_output_single
            data = _selector(f"{name}((address,address,uint256,uint24,uint160))") + encode(
                ["(address,address,uint256,uint24,uint160)"], [params]
            )
            chain_reason, result = p.env.view(p.quoter.address, data)
            chain_result = None
            if chain_reason is None:
                chain_result = decode(
                    ["uint256", "uint160", "uint32"], bytes.fromhex(result[2:194])
                )
            try:
                result, reason = twin_quote(p.twin, zero_for_one, amount, limit), None
            except Revert as err:
                result, reason = None, err.reason
            assert (chain_reason, chain_result) == (reason, result), params
            quotes += 1
            failures += reason is not None
        # Move the price across ranges for the next round, alternating directions.
        zero_for_one = round_ % 2 == 0
        receipt = p.callee.swap(
            p.env.pools[3000], p.user, zero_for_one, 10**18 if zero_for_one else 10**17,
            MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1, 0, sender=p.user,
        )  # fmt: skip
        p.twin.swap(
            zero_for_one, 10**18 if zero_for_one else 10**17,
            MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1, p.timestamp(receipt),
        )  # fmt: skip
        p.assert_same_state([])
    assert quotes == 48 and 0 < failures < quotes


def test_swap_router_and_position_manager_leave_the_pool_as_the_twin_predicts(periphery):
    """Swaps through SwapRouter with slippage bounds taken from the twin's quote (one unit
    tighter fails with the router's reason), and a mint / decrease / collect through the
    NonfungiblePositionManager, leave the pool exactly as the twin says."""
    p = periphery
    token0, token1, pool = p.env.token0, p.env.token1, p.env.pools[3000]
    npm = p.npm.address
    deadline = MAX_UINT256
    for zero_for_one, exact_input, amount, limit_ticks in (
        (True, True, 3 * 10**17, 700),
        (False, True, 2 * 10**16, 900),
        (True, False, 10**15, 400),
        (False, False, 5 * 10**17, 1500),
    ):
        token_in, token_out = (token0, token1) if zero_for_one else (token1, token0)
        limit = get_sqrt_ratio_at_tick(
            p.twin.tick + (-limit_ticks if zero_for_one else limit_ticks)
        )
        if exact_input:
            out, _, _ = quote_exact_input_single(p.twin, zero_for_one, amount, limit)
            params = (token_in, token_out, 3000, p.user, deadline, amount, out, limit)
            call, too_tight, reason = p.router.exactInputSingle, out + 1, "Too little received"
        else:
            needed, _, _ = quote_exact_output_single(p.twin, zero_for_one, amount, limit)
            params = (token_in, token_out, 3000, p.user, deadline, amount, needed, limit)
            call, too_tight, reason = p.router.exactOutputSingle, needed - 1, "Too much requested"
        with ape.reverts(reason):
            call((*params[:6], too_tight, limit), sender=p.user)
        receipt = call(params, sender=p.user)
        p.twin.swap(zero_for_one, amount if exact_input else -amount, limit, p.timestamp(receipt))
        p.assert_same_state([])

    lower, upper = p.twin.tick // 60 * 60 - 600, p.twin.tick // 60 * 60 + 1200
    desired0, desired1 = 4 * 10**18, 3 * 10**17
    liquidity = liquidity_for_amounts(p.twin.sqrt_price_x96, lower, upper, desired0, desired1)
    mint = (token0, token1, 3000, lower, upper, desired0, desired1, 0, 0, p.user, deadline)
    receipt = p.npm.mint(mint, sender=p.user)
    p.twin.mint(npm, lower, upper, liquidity, p.timestamp(receipt))
    token_id = 1
    assert p.npm.positions(token_id).liquidity == liquidity
    p.assert_same_state([(npm, lower, upper)])

    receipt = p.callee.swap(pool, p.user, True, 10**18, MIN_SQRT_RATIO + 1, 0, sender=p.user)
    p.twin.swap(True, 10**18, MIN_SQRT_RATIO + 1, p.timestamp(receipt))
    receipt = p.npm.decreaseLiquidity((token_id, liquidity // 3, 0, 0, deadline), sender=p.user)
    p.twin.burn(npm, lower, upper, liquidity // 3, p.timestamp(receipt))
    p.assert_same_state([(npm, lower, upper)])

    receipt = p.npm.collect((token_id, p.user, UINT128_MAX, UINT128_MAX), sender=p.user)
    timestamp = p.timestamp(receipt)
    p.twin.burn(npm, lower, upper, 0, timestamp)  # the manager pokes the position first
    collected = p.twin.collect(npm, lower, upper, UINT128_MAX, UINT128_MAX)
    assert collected[0] > 0 and collected[1] > 0
    p.assert_same_state([(npm, lower, upper)])


def test_uninitialised_pool_and_initialize(v3):
    """Before `initialize` the pool is locked ('LOK', and 'I' from the oracle); prices outside
    [MIN_SQRT_RATIO, MAX_SQRT_RATIO) fail with 'R'; a second `initialize` with 'AI'."""
    v3.reset()
    pool, owner = v3.pools[3000], v3.owners[0]
    twin = UniswapV3Pool(3000, address=pool)
    now = v3.block_time()
    mint = ["address", "address", "int24", "int24", "uint128", "uint256"]
    swap = ["address", "address", "bool", "int256", "uint160", "uint256"]
    steps = [
        (v3.callee, SEL["calleeMint"] + encode(mint, [pool, owner, -60, 60, 10**18, 0]),
         lambda: twin.mint(owner, -60, 60, 10**18, now), "LOK"),
        (v3.callee, SEL["calleeSwap"] + encode(swap, [pool, owner, True, 10**6, MIN_SQRT_RATIO + 1, 0]),
         lambda: twin.swap(True, 10**6, MIN_SQRT_RATIO + 1, now), "LOK"),
        (v3.callee, SEL["calleeSwap"] + encode(swap, [pool, owner, True, 0, MIN_SQRT_RATIO + 1, 0]),
         lambda: twin.swap(True, 0, MIN_SQRT_RATIO + 1, now), "AS"),
        (pool, SEL["burn"] + encode(["int24", "int24", "uint128"], [-60, 60, 0]),
         lambda: twin.burn(owner, -60, 60, 0, now), "LOK"),
        (pool, SEL["collect"] + encode(["address", "int24", "int24", "uint128", "uint128"], [owner, -60, 60, 1, 1]),
         lambda: twin.collect(owner, -60, 60, 1, 1), "LOK"),
        (pool, SEL["grow"] + encode(["uint16"], [5]),
         lambda: twin.increase_observation_cardinality_next(5), "LOK"),
        (pool, SEL["initialize"] + encode(["uint160"], [MIN_SQRT_RATIO - 1]),
         lambda: twin.initialize(MIN_SQRT_RATIO - 1, now), "R"),
        (pool, SEL["initialize"] + encode(["uint160"], [MAX_SQRT_RATIO]),
         lambda: twin.initialize(MAX_SQRT_RATIO, now), "R"),
        (pool, SEL["initialize"] + encode(["uint160"], [MAX_SQRT_RATIO - 1]),
         lambda: twin.initialize(MAX_SQRT_RATIO - 1, now), None),
        (pool, SEL["initialize"] + encode(["uint160"], [2**96]),
         lambda: twin.initialize(2**96, now), "AI"),
    ]  # fmt: skip
    reason, _ = v3.view(pool, SEL["observe"] + encode(["uint32[]"], [[0]]))
    with pytest.raises(Revert, match="^I$"):
        twin.observe([0], now)
    assert reason == "I"
    for to, data, twin_op, expected in steps:
        reason, _ = v3.transact(owner, to, data)
        try:
            twin_op()
            twin_reason = None
        except Revert as err:
            twin_reason = err.reason
        assert reason == twin_reason == expected
    reader = StateReader(v3, pool)
    assert reader.chain([], [], [], 1) == StateReader.twin(twin, [], [], [], 1)
