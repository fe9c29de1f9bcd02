"""The mainnet preset as the keeper tests drive it: its contracts as raw calls from the preset's
unlocked role accounts on one node (the preset itself or a fork of it), the keeper configs built
from keeper/mainnet.example.yaml, and the checks every test makes of a plan's pool legs: the
twins' amounts equal QuoterV2's and UniswapV2Router02's quotes at the plan's block, and, once
mined, the pools' own Swap events."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from eth_abi import decode
from eth_utils import keccak
from fork_node import SEND_GAS, ForkNode, forked

from keeper.session import merged
from keeper.venues.quotes import protocol_quotes
from sim.chain import node as chainmod
from sim.chain.abi import encode_call
from sim.chain.mainnet import place_mainnet_preset

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "keeper" / "mainnet.example.yaml"
E18 = 10**18
MAX = 2**256 - 1
V2_SWAP = "0x" + keccak(text="Swap(address,uint256,uint256,uint256,uint256,address)").hex()
V3_SWAP = "0x" + keccak(text="Swap(address,address,int256,int256,uint160,uint128,int24)").hex()


@contextmanager
def mainnet_preset(home: Path, v3_depths: dict) -> Iterator[tuple[str, dict[str, Any], int]]:
    """The mainnet preset on its own anvil under `home`, V3 pools at `v3_depths`: (url,
    manifest, head block); the node stops on exit."""
    record = chainmod.start_upstream(port=chainmod.free_port(), home=home)
    try:
        manifest = place_mainnet_preset(record.url, v3_depths=v3_depths)
        yield record.url, manifest, chainmod.block_number_of(record.url)
    finally:
        chainmod.stop_upstream(home)


@contextmanager
def preset_fork(preset: tuple[str, dict[str, Any], int], workdir: Path) -> Iterator[
    tuple[ForkNode, Market, dict[str, Any]]
]:  # fmt: skip
    """A fork of `preset` (`mainnet_preset`'s (url, manifest, block)): (node, market on it,
    manifest), the node killed on exit."""
    url, manifest, block = preset
    with forked(url, block, workdir) as node:
        yield node, Market(node.url, manifest), manifest


class Market:
    """The preset's contracts on the node at `url` (see the module docstring)."""

    def __init__(self, url: str, manifest: dict[str, Any]):
        m = self.m = manifest
        self.url = url
        self.client = chainmod.rpc_client(url, timeout=30)
        roles = m["accounts"]
        self.deployer, self.transmitter = roles["deployer"], roles["transmitter"]
        self.trader, self.keeper = roles["trader"], roles["keeper"]
        self.weth, self.usdc = m["tokens"]["WETH"]["address"], m["tokens"]["USDC"]["address"]
        self.router02 = m["uniswap_v2"]["router"]["address"]
        self.swap_router = m["uniswap_v3"]["swap_router"]["address"]
        self.quoter = m["uniswap_v3"]["quoter_v2"]["address"]
        self.pair = m["uniswap_v2"]["pairs"]["weth_usdc"]["address"]
        self.v3 = {p["fee"]: p["address"] for p in m["uniswap_v3"]["pools"].values()}
        self.options, self.perp = m["options"]["address"], m["perp"]["address"]
        self._approved = False

    # -- the node -----------------------------------------------------------------------

    def rpc(self, method: str, *params):
        return self.client.call(method, list(params))

    def send(self, sender: str, to: str, data: str) -> dict:
        """Send from an unlocked role account and wait for the receipt, which must succeed.

        With a gas limit of its own: anvil estimates at the pending block's timestamp and can
        estimate against the state one transaction behind while it mines, so an estimated
        limit runs out when the swap pays a path the estimate missed (an oracle write, a
        cumulative-price update: the keeper's `keeper.venues.gas` allowances)."""
        tx = self.rpc("eth_sendTransaction", {"from": sender, "to": to, "data": data,
                                              "gas": hex(SEND_GAS)})  # fmt: skip
        deadline = time.monotonic() + 10
        while (receipt := self.rpc("eth_getTransactionReceipt", tx)) is None:
            assert time.monotonic() < deadline, f"{tx} not mined"
            time.sleep(0.01)
        assert receipt["status"] == "0x1", receipt
        return receipt

    def call(self, to: str, signature: str, types: list, args: list, out: list, block="latest"):
        result = self.rpc(
            "eth_call", {"to": to, "data": encode_call(signature, types, args)}, block
        )
        return decode(out, bytes.fromhex(result[2:]))

    def now(self) -> int:
        return int(self.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)

    def later(self, seconds: int) -> None:
        self.rpc("evm_setNextBlockTimestamp", hex(self.now() + seconds))
        self.rpc("evm_mine")

    def nonce(self, account: str) -> int:
        return int(self.rpc("eth_getTransactionCount", account, "latest"), 16)

    def balance(self, token: str, who: str) -> int:
        return self.call(token, "balanceOf(address)", ["address"], [who], ["uint256"])[0]

    # -- the actors ---------------------------------------------------------------------

    def transmit(self, price: float) -> None:
        self.send(self.transmitter, self.m["feed"]["address"],
                  encode_call("transmit(int256)", ["int256"], [int(price * 1e8)]))  # fmt: skip

    def _approve_trader(self) -> None:
        if not self._approved:
            for token in (self.weth, self.usdc):
                for spender in (self.router02, self.swap_router, self.options):
                    self.send(self.trader, token, encode_call(
                        "approve(address,uint256)", ["address", "uint256"], [spender, MAX]))  # fmt: skip
            self._approved = True

    def buy_calls(self, strike_id: int, amount: float) -> None:
        """The trader buys calls from the options pool: the pool goes short their delta."""
        self._approve_trader()
        self.send(self.trader, self.options, encode_call(
            "openPosition(uint256,bool,bool,uint256,uint256,uint256)",
            ["uint256", "bool", "bool", "uint256", "uint256", "uint256"],
            [strike_id, True, True, int(amount * E18), 10**15, self.now() + 3600],
        ))  # fmt: skip

    def swap_v2(self, token_in: str, amount_in: int) -> dict:
        self._approve_trader()
        token_out = self.usdc if token_in == self.weth else self.weth
        return self.send(self.trader, self.router02, encode_call(
            "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
            ["uint256", "uint256", "address[]", "address", "uint256"],
            [amount_in, 0, [token_in, token_out], self.trader, self.now() + 600],
        ))  # fmt: skip

    def swap_v3(self, fee: int, token_in: str, amount_in: int, price_up: float = 0.0) -> dict:
        """Sell `amount_in` of `token_in` to the V3 pool of `fee`; with `price_up`, sell USDC
        until WETH's price is that much higher (the pool's price limit stops the swap)."""
        self._approve_trader()
        token_out = self.usdc if token_in == self.weth else self.weth
        limit = 0
        if price_up:
            sqrt_price = self.call(self.v3[fee], "slot0()", [], [], ["uint160"])[0]
            limit = int(sqrt_price / math.sqrt(1 + price_up))  # USDC is token0: its price falls
            amount_in = self.balance(self.usdc, self.trader)
        params = (token_in, token_out, fee, self.trader, self.now() + 600, amount_in, 0, limit)
        return self.send(self.trader, self.swap_router, encode_call(
            "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
            ["(address,address,uint24,address,uint256,uint256,uint256,uint160)"], [params],
        ))  # fmt: skip

    def revoke(self, token: str, spender: str) -> None:
        """The keeper withdraws its allowance to `spender` (its legs there then revert)."""
        self.send(self.keeper, token,
                  encode_call("approve(address,uint256)", ["address", "uint256"], [spender, 0]))  # fmt: skip

    # -- the checks ---------------------------------------------------------------------

    def assert_quotes(self, legs, block: int) -> int:
        """Every genuine-pool leg's twin amount equals its protocol's quote at `block`;
        returns how many were checked."""
        checks = protocol_quotes(self.url, tuple(legs), block, self.quoter, self.router02)
        for c in checks:
            assert c.equal, f"{c.venue} ({c.kind}) {c.what}: twin {c.twin}, protocol {c.protocol}"
        return len(checks)

    def assert_fills(self, legs, tx_hashes) -> None:
        """Each mined pool leg moved exactly the twin's amounts (the pool's Swap event)."""
        for leg, tx in zip(legs, tx_hashes, strict=True):
            if leg.kind not in ("univ2", "univ3") or tx is None:
                continue
            receipt = self.rpc("eth_getTransactionReceipt", tx)
            topic = V3_SWAP if leg.kind == "univ3" else V2_SWAP
            (log,) = [g for g in receipt["logs"] if g["topics"][0] == topic]
            data = bytes.fromhex(log["data"][2:])
            base0 = self.weth.lower() < self.usdc.lower()
            if leg.kind == "univ3":
                a0, a1, *_ = decode(["int256", "int256", "uint160", "uint128", "int24"], data)
                paid_in, paid_out = max(a0, a1), -min(a0, a1)
            else:
                in0, in1, out0, out1 = decode(["uint256"] * 4, data)
                paid_in, paid_out = in0 + in1, out0 + out1
            assert (paid_in, paid_out) == (leg.amount_in, leg.amount_out), (leg.venue, base0)


def keeper_config(
    tmp_path: Path, url: str, manifest: dict, *, options: bool = True, perp: float = 0.0,
    only: tuple[str, ...] | None = None, **over: Any,
) -> dict:  # fmt: skip
    """keeper/mainnet.example.yaml made live on `url` with fast polls and a tight band;
    `options`: the preset's options pool is the book; `perp` > 0: the preset's perp is a
    venue with that position cap; `only`: the pool venues kept (by name)."""
    cfg = yaml.safe_load(EXAMPLE.read_text())
    cfg.update(dry_run=False, rpc_url=url, journal_path=str(tmp_path / "journal.sqlite"),
               poll_s=0.1)  # fmt: skip
    cfg["policy"] = {"kind": "delta_band", "band": 1.0, "min_delay": 0, "override": 5}
    if options:
        cfg["addresses"]["options_pool"] = manifest["options"]["address"]
    if perp:
        cfg["venues"]["perp"] = {"enabled": True, "address": manifest["perp"]["address"],
                                 "max_position_base": perp, "margin_quote": 100_000}  # fmt: skip
    if only is not None:
        for kind in ("univ2", "univ3"):
            cfg["venues"][kind] = [v for v in cfg["venues"][kind] if v["name"] in only]
    cfg["safety"]["guards"] |= {"max_slippage_bps": 150, "oracle_max_deviation_bps": 400}
    cfg["safety"]["tx"] = {"poll_s": 0.05, "rpc_retry_budget_s": 30,
                           "rpc_backoff_initial_s": 0.1, "rpc_backoff_max_s": 0.5}  # fmt: skip
    return merged(cfg, over)


def write_config(tmp_path: Path, cfg: dict) -> Path:
    path = tmp_path / "keeper.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
