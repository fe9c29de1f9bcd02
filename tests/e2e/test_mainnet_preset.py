"""The mainnet preset on a fresh anvil: genuine code and constructor state at the mainnet
addresses, the WETH/USDC pools where CREATE2 puts them on mainnet, and every contract working
through its own routers and quoter. Refusals come before any transaction, in one line."""

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from sim.chain import mainnet as mn
from sim.chain import node
from sim.chain.artifacts import ArtifactError, load_artifact
from sim.errors import ConfigError

pytestmark = pytest.mark.chain

ROOT = Path(__file__).resolve().parents[2]
PRICE = Decimal(3000)

# Mainnet's WETH/USDC pools and the init-code hashes their addresses derive from.
V2_PAIR = "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"
V3_POOLS = {500: "0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640",
            3000: "0x8ad599c3A0ff1De082011EFDDc58f1908eb6e6D8"}  # fmt: skip
V2_PAIR_INIT_CODE_HASH = "96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"
V3_POOL_INIT_CODE_HASH = "e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"

# (mainnet address, contract, npm package or None, addresses its immutables must hold)
SINGLETONS = [
    (mn.WETH9, "WETH9", "@uniswap/v2-periphery", set()),
    (mn.USDC, "ERC20", None, set()),
    (mn.ETH_USD_FEED, "PriceFeed", None, set()),
    (mn.V2_FACTORY, "UniswapV2Factory", "@uniswap/v2-core", set()),
    (mn.V2_ROUTER, "UniswapV2Router02", "@uniswap/v2-periphery", {mn.V2_FACTORY, mn.WETH9}),
    # NoDelegateCall: the factory's own address, rewritten from the scratch deployment's.
    (mn.V3_FACTORY, "UniswapV3Factory", "@uniswap/v3-core", {mn.V3_FACTORY}),
    (mn.V3_SWAP_ROUTER, "SwapRouter", "@uniswap/v3-periphery", {mn.V3_FACTORY, mn.WETH9}),
    (mn.V3_POSITION_MANAGER, "NonfungiblePositionManager", "@uniswap/v3-periphery",
     {mn.V3_FACTORY, mn.WETH9, mn.V3_POSITION_DESCRIPTOR}),
    (mn.V3_QUOTER_V2, "QuoterV2", "@uniswap/v3-periphery", {mn.V3_FACTORY, mn.WETH9}),
]  # fmt: skip
NPM = {name: package for _, name, package, _ in SINGLETONS}
NPM.update(UniswapV2Pair="@uniswap/v2-core", UniswapV3Pool="@uniswap/v3-core")
ADDRESS = {name: address for address, name, _, _ in SINGLETONS}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def anvil_url():
    """A fresh, silent anvil with chain id 1 on a free port; stopped at the end."""
    anvil = shutil.which("anvil") or str(ROOT / "node_modules" / ".bin" / "anvil")
    port = free_port()
    proc = subprocess.Popen(
        [anvil, "--host", "127.0.0.1", "--port", str(port), "--chain-id", "1", "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    w3 = Web3(Web3.HTTPProvider(url))
    try:
        deadline = time.monotonic() + 20
        while not w3.is_connected():
            assert proc.poll() is None and time.monotonic() < deadline, "anvil did not start"
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def preset(anvil_url):
    """(web3, manifest) after placing the preset with its default depths."""
    manifest = mn.place_mainnet_preset(anvil_url, price=PRICE)
    return Web3(Web3.HTTPProvider(anvil_url)), manifest


@pytest.fixture
def w3(preset):
    """The preset's chain, reverted after the test (as Ape's per-test snapshots would)."""
    w3, _ = preset
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    yield w3
    assert w3.provider.make_request("evm_revert", [snapshot])["result"]


def at(w3: Web3, name: str, address: str | None = None):
    return w3.eth.contract(address=address or ADDRESS[name], abi=load_artifact(name, NPM[name]).abi)


def send(call, sender: str, value: int = 0):
    receipt = call.w3.eth.wait_for_transaction_receipt(
        call.transact({"from": sender, "value": value})
    )
    assert receipt.status == 1
    return receipt


def deadline(w3: Web3) -> int:
    return w3.eth.get_block("latest")["timestamp"] + 600


def immutable_addresses(code: bytes, name: str) -> set[str]:
    """Addresses held by the immutables of `code` (non-zero words with 12 leading zero bytes)."""
    words = [code[o : o + n] for o, n in load_artifact(name, NPM[name]).immutables]
    return {to_checksum_address(w[12:]) for w in words if w[:12] == bytes(12) and any(w)}


# --------------------------------------------------------------------------- artifacts


def test_npm_init_code_hashes_equal_mainnets():
    """keccak256 of the creation code, what CREATE2 hashes for a pair or pool (no constructor
    arguments): equal to mainnet's, so factories at mainnet's addresses create pools at
    mainnet's addresses."""
    for name, package, want in (
        ("UniswapV2Pair", "@uniswap/v2-core", V2_PAIR_INIT_CODE_HASH),
        ("UniswapV3Pool", "@uniswap/v3-core", V3_POOL_INIT_CODE_HASH),
    ):
        assert keccak(load_artifact(name, package).bytecode).hex() == want, name


def test_hardhat_placeholders_agree_with_the_compilers_immutable_list():
    # Router02's waffle build lists its immutables; the PUSH32-zero scan used for hardhat
    # builds must find exactly those in the same code.
    from sim.chain.artifacts import _zero_push32_slots

    router = load_artifact("UniswapV2Router02", "@uniswap/v2-periphery")
    assert router.immutables and _zero_push32_slots(router.runtime) == router.immutables


@pytest.mark.parametrize(
    "name, package, root, fix",
    [
        ("UniswapV3Pool", "@uniswap/v3-core", "empty", "npm install"),
        ("NoSuchContract", "@uniswap/v3-core", None, "npm install"),
        ("ERC20", None, "empty", "ape compile"),
        ("NoSuchContract", None, None, "ape compile"),
    ],
    ids=["npm-package-missing", "npm-contract-missing", "build-missing", "build-contract-missing"],
)
def test_missing_artifact_is_one_line_naming_the_fix(tmp_path, name, package, root, fix):
    with pytest.raises(ArtifactError) as err:
        load_artifact(name, package, root=tmp_path if root == "empty" else None)
    assert f"`{fix}`" in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------- placement


@pytest.mark.parametrize(
    "address, name, package, immutables", SINGLETONS, ids=[s[1] for s in SINGLETONS]
)
def test_singleton_holds_its_artifacts_code(preset, address, name, package, immutables):
    w3, _ = preset
    code = bytes(w3.eth.get_code(address))
    assert load_artifact(name, package).matches(code)
    assert immutable_addresses(code, name) == immutables


def test_scratch_copies_are_erased(preset):
    w3, _ = preset
    deployer = node.ROLE_ADDRESSES["deployer"]
    for nonce in range(len(SINGLETONS)):  # a fresh anvil: the deployer's first transactions
        scratch = to_checksum_address(keccak(rlp.encode([bytes.fromhex(deployer[2:]), nonce]))[12:])
        assert w3.eth.get_code(scratch) == b""
        assert w3.eth.get_storage_at(scratch, 0) == bytes(32)
        assert w3.eth.get_transaction_count(scratch) == 0


def test_constructor_state_travels_with_the_code(preset):
    w3, _ = preset
    deployer, transmitter = node.ROLE_ADDRESSES["deployer"], node.ROLE_ADDRESSES["transmitter"]
    weth, usdc = at(w3, "WETH9"), at(w3, "ERC20")
    assert weth.functions.name().call() == "Wrapped Ether"
    assert (weth.functions.symbol().call(), weth.functions.decimals().call()) == ("WETH", 18)
    assert (usdc.functions.symbol().call(), usdc.functions.decimals().call()) == ("USDC", 6)
    assert usdc.functions.minter().call() == deployer
    feed = at(w3, "PriceFeed")
    assert feed.functions.owner().call() == deployer
    assert feed.functions.transmitter().call() == transmitter
    assert at(w3, "UniswapV2Factory").functions.feeToSetter().call() == deployer
    factory = at(w3, "UniswapV3Factory")
    assert factory.functions.owner().call() == deployer
    assert {f: factory.functions.feeAmountTickSpacing(f).call() for f in mn.V3_TICK_SPACING} == (
        mn.V3_TICK_SPACING
    )
    manager = at(w3, "NonfungiblePositionManager")
    assert manager.functions.name().call() == "Uniswap V3 Positions NFT-V1"
    assert manager.functions.supportsInterface(bytes.fromhex("80ac58cd")).call()  # ERC721
    router = at(w3, "UniswapV2Router02")
    assert (router.functions.factory().call(), router.functions.WETH().call()) == (
        mn.V2_FACTORY, mn.WETH9,
    )  # fmt: skip
    for name in ("SwapRouter", "NonfungiblePositionManager", "QuoterV2"):
        periphery = at(w3, name)
        assert periphery.functions.factory().call() == mn.V3_FACTORY
        assert periphery.functions.WETH9().call() == mn.WETH9


def test_roles_are_the_ape_test_accounts(preset):
    # Ape's and anvil's test mnemonic and path (ape.utils.testing DEFAULT_TEST_*).
    Account.enable_unaudited_hdwallet_features()
    mnemonic = "test test test test test test test test test test test junk"
    for role, index in node.ROLE_INDEX.items():
        derived = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
        assert derived.address == node.ROLE_ADDRESSES[role] == preset[1]["accounts"][role]


# --------------------------------------------------------------------------- pools


def test_v2_pair_is_at_mainnets_address_with_the_seeded_reserves(preset):
    w3, manifest = preset
    entry = manifest["uniswap_v2"]["pairs"]["weth_usdc"]
    assert entry["address"] == V2_PAIR
    assert at(w3, "UniswapV2Factory").functions.getPair(mn.WETH9, mn.USDC).call() == V2_PAIR
    pair = at(w3, "UniswapV2Pair", V2_PAIR)
    assert (pair.functions.token0().call(), pair.functions.token1().call()) == (mn.USDC, mn.WETH9)
    reserve0, reserve1, _ = pair.functions.getReserves().call()
    # The deployer's 1,000 WETH at the seed price, and the keeper's LP share (2 WETH).
    assert (reserve0, reserve1) == (3_006_000 * 10**6, 1002 * 10**18)
    assert (entry["reserve0"], entry["reserve1"]) == (reserve0, reserve1)
    keeper_lp = pair.functions.balanceOf(node.ROLE_ADDRESSES["keeper"]).call()
    assert keeper_lp == entry["keeper_lp_balance"]
    assert keeper_lp / pair.functions.totalSupply().call() == pytest.approx(2 / 1002, rel=1e-9)
    assert load_artifact("UniswapV2Pair", NPM["UniswapV2Pair"]).matches(
        bytes(w3.eth.get_code(V2_PAIR))
    )


@pytest.mark.parametrize("fee", [500, 3000])
def test_v3_pool_is_at_mainnets_address_with_the_seeded_positions(preset, fee):
    w3, manifest = preset
    entry = manifest["uniswap_v3"]["pools"][f"weth_usdc_{fee}"]
    assert entry["address"] == V3_POOLS[fee]
    factory = at(w3, "UniswapV3Factory")
    assert factory.functions.getPool(mn.WETH9, mn.USDC, fee).call() == V3_POOLS[fee]
    code = bytes(w3.eth.get_code(V3_POOLS[fee]))
    assert load_artifact("UniswapV3Pool", NPM["UniswapV3Pool"]).matches(code)
    # factory, token0, token1 and NoDelegateCall's own address (fee and spacings are words too)
    assert {mn.V3_FACTORY, mn.USDC, mn.WETH9, V3_POOLS[fee]} <= immutable_addresses(
        code, "UniswapV3Pool"
    )
    pool = at(w3, "UniswapV3Pool", V3_POOLS[fee])
    assert (entry["token0"], entry["token1"], entry["fee"]) == (mn.USDC, mn.WETH9, fee)
    assert pool.functions.tickSpacing().call() == entry["tick_spacing"] == mn.V3_TICK_SPACING[fee]
    sqrt_price_x96 = pool.functions.slot0().call()[0]
    assert sqrt_price_x96 == entry["sqrt_price_x96"] == mn.sqrt_price_x96_of(PRICE)
    assert 10**12 / (sqrt_price_x96 / 2**96) ** 2 == pytest.approx(float(PRICE), rel=1e-12)

    manager, spacing = at(w3, "NonfungiblePositionManager"), entry["tick_spacing"]
    positions = entry["positions"]
    assert len(positions) == len(mn.DEFAULT_V3_DEPTHS[fee]) >= 3
    assert {p["width"] for p in positions} == {None, "0.1", "0.02"}
    for p in positions:
        on_chain = manager.functions.positions(p["token_id"]).call()
        # (nonce, operator, token0, token1, fee, tickLower, tickUpper, liquidity, ...)
        assert on_chain[2:8] == [mn.USDC, mn.WETH9, fee, p["tick_lower"], p["tick_upper"],
                                 p["liquidity"]]  # fmt: skip
        assert manager.functions.ownerOf(p["token_id"]).call() == node.ROLE_ADDRESSES["deployer"]
        assert p["tick_lower"] % spacing == p["tick_upper"] % spacing == 0
        assert p["tick_lower"] < entry["tick"] < p["tick_upper"]
    # Every position brackets the price: the pool's active liquidity is their sum, exactly.
    assert pool.functions.liquidity().call() == sum(p["liquidity"] for p in positions)
    full = next(p for p in positions if p["width"] is None)
    assert full["amount1"] == pytest.approx(100 * 10**18 if fee == 500 else 200 * 10**18, rel=1e-9)


# --------------------------------------------------------------------------- using them


def wrap(w3: Web3, account: str, wei: int) -> None:
    send(at(w3, "WETH9").functions.deposit(), account, value=wei)


def test_weth9_deposit_and_withdraw(w3):
    trader, weth = node.ROLE_ADDRESSES["trader"], at(w3, "WETH9")
    before = weth.functions.balanceOf(trader).call()
    wrap(w3, trader, 3 * 10**18)
    send(weth.functions.withdraw(10**18), trader)
    assert weth.functions.balanceOf(trader).call() - before == 2 * 10**18
    assert weth.functions.totalSupply().call() == w3.eth.get_balance(mn.WETH9)


def test_v2_router_quotes_and_swaps(w3):
    trader, router = node.ROLE_ADDRESSES["trader"], at(w3, "UniswapV2Router02")
    amount_in, path = 10**18, [mn.WETH9, mn.USDC]
    quoted = router.functions.getAmountsOut(amount_in, path).call()
    reserve_usdc, reserve_weth, _ = at(w3, "UniswapV2Pair", V2_PAIR).functions.getReserves().call()
    # UniswapV2Library.getAmountOut with the 0.3 % fee
    assert quoted[1] == amount_in * 997 * reserve_usdc // (reserve_weth * 1000 + amount_in * 997)
    before = at(w3, "ERC20").functions.balanceOf(trader).call()
    send(at(w3, "WETH9").functions.approve(mn.V2_ROUTER, amount_in), trader)
    send(
        router.functions.swapExactTokensForTokens(amount_in, quoted[1], path, trader, deadline(w3)),
        trader,
    )
    assert at(w3, "ERC20").functions.balanceOf(trader).call() - before == quoted[1]


@pytest.mark.parametrize("fee", [500, 3000])
def test_quoter_v2_and_swap_router_agree(w3, fee):
    trader, amount_in = node.ROLE_ADDRESSES["trader"], 10 * 10**18
    quoter, swap_router = at(w3, "QuoterV2"), at(w3, "SwapRouter")
    amount_out, sqrt_after, _, _ = quoter.functions.quoteExactInputSingle(
        (mn.WETH9, mn.USDC, amount_in, fee, 0)
    ).call()
    assert amount_out == pytest.approx(10 * 3000 * 10**6 * (1 - fee / 1e6), rel=2e-3)
    before = at(w3, "ERC20").functions.balanceOf(trader).call()
    send(at(w3, "WETH9").functions.approve(mn.V3_SWAP_ROUTER, amount_in), trader)
    params = (mn.WETH9, mn.USDC, fee, trader, deadline(w3), amount_in, amount_out, 0)
    send(swap_router.functions.exactInputSingle(params), trader)
    assert at(w3, "ERC20").functions.balanceOf(trader).call() - before == amount_out
    assert at(w3, "UniswapV3Pool", V3_POOLS[fee]).functions.slot0().call()[0] == sqrt_after


def test_roles_options_pool_and_perp_beside_the_genuine_contracts(preset):
    """The keeper holds its WETH baseline, USDC and a V2 LP share; the trader WETH and USDC;
    ammlab's options pool and perp read the feed at the ETH / USD address and settle in USDC
    at its address; each V3 pool's oracle keeps V3_OBSERVATION_CARDINALITY observations."""
    w3, manifest = preset
    keeper, trader = node.ROLE_ADDRESSES["keeper"], node.ROLE_ADDRESSES["trader"]
    weth, usdc = at(w3, "WETH9"), at(w3, "ERC20")
    assert weth.functions.balanceOf(keeper).call() == 100 * 10**18  # LP WETH went to the pair
    assert usdc.functions.balanceOf(keeper).call() == 1_000_000 * 10**6
    assert weth.functions.balanceOf(trader).call() == 1000 * 10**18
    assert usdc.functions.balanceOf(trader).call() == 10_000_000 * 10**6
    assert manifest["keeper"] == {"address": keeper, "weth_baseline": "100",
                                  "lp_pool": "weth_usdc"}  # fmt: skip
    for part, contract in (("options", "OptionsPool"), ("perp", "PerpMarket")):
        entry = manifest[part]
        assert entry["contract"] == contract and entry["package"] is None
        own = w3.eth.contract(address=entry["address"], abi=load_artifact(contract).abi)
        assert own.functions.quoteToken().call() == mn.USDC
        assert own.functions.priceFeed().call() == mn.ETH_USD_FEED
    options = w3.eth.contract(address=manifest["options"]["address"],
                              abi=load_artifact("OptionsPool").abi)  # fmt: skip
    assert options.functions.hedger().call() == keeper
    assert len(manifest["options"]["boards"]) == 2
    for entry in manifest["uniswap_v3"]["pools"].values():
        slot0 = at(w3, "UniswapV3Pool", entry["address"]).functions.slot0().call()
        assert slot0[4] == entry["observation_cardinality_next"] == mn.V3_OBSERVATION_CARDINALITY


def test_feed_answers_the_seed_price(preset):
    w3, manifest = preset
    feed = at(w3, "PriceFeed", manifest["feed"]["address"])
    round_id, answer, started, updated, answered_in = feed.functions.latestRoundData().call()
    assert (round_id, answer, answered_in) == (1, 3000 * 10**8, 1)
    assert started == updated > 0
    assert (feed.functions.decimals().call(), feed.functions.description().call()) == (
        8, "ETH / USD",
    )  # fmt: skip


# --------------------------------------------------------------------------- refusals


class FakeRpc:
    """A JSON-RPC endpoint that answers eth_chainId (and, if `anvil`, anvil_nodeInfo) and
    records every method it is asked for."""

    def __init__(self, chain_id: int, anvil: bool):
        self.methods: list[str] = []
        rpc = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                rpc.methods.append(request["method"])
                reply = {"jsonrpc": "2.0", "id": request["id"]}
                if request["method"] == "eth_chainId":
                    reply["result"] = hex(chain_id)
                elif request["method"] == "anvil_nodeInfo" and anvil:
                    reply["result"] = {}
                else:
                    reply["error"] = {"code": -32601, "message": "Method not found"}
                body = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.mark.parametrize(
    "chain_id, anvil, expect",
    [(31337, True, "chain id 31337, not 1"), (1, False, "is not anvil")],
    ids=["wrong-chain-id", "not-anvil"],
)
def test_refuses_the_wrong_node_before_any_transaction(chain_id, anvil, expect):
    rpc = FakeRpc(chain_id, anvil)
    try:
        with pytest.raises(mn.PresetError) as err:
            mn.place_mainnet_preset(rpc.url)
    finally:
        rpc.server.shutdown()
    assert expect in str(err.value) and "\n" not in str(err.value)
    assert set(rpc.methods) <= {"eth_chainId", "anvil_nodeInfo"}


def test_refuses_a_chain_that_already_holds_the_contracts(preset, anvil_url):
    w3, _ = preset
    block = w3.eth.block_number
    with pytest.raises(mn.PresetError) as err:
        mn.place_mainnet_preset(anvil_url)
    assert "already holds code at" in str(err.value) and "\n" not in str(err.value)
    assert w3.eth.block_number == block


def test_refuses_an_unreachable_rpc():
    with pytest.raises(mn.PresetError, match="unreachable") as err:
        mn.place_mainnet_preset(f"http://127.0.0.1:{free_port()}")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "options, field",
    [
        ({"price": Decimal(0)}, "price"),
        ({"price": Decimal(-3000)}, "price"),
        ({"price": Decimal("1e-40")}, "outside the range"),
        ({"v2_weth_depth": Decimal(0)}, "v2_weth_depth"),
        ({"v3_depths": {100: (mn.V3Range(Decimal(1)),)}}, "unknown fee tier 100"),
        ({"v3_depths": {500: (mn.V3Range(Decimal(0)),)}}, "weth must be positive"),
        ({"v3_depths": {500: (mn.V3Range(Decimal(1), Decimal("1.5")),)}}, "width"),
        ({"v3_depths": {500: ()}}, "at least one range"),
    ],
    ids=["price-zero", "price-negative", "price-tiny", "v2-depth-zero", "fee-tier",
         "v3-depth-zero", "width", "no-ranges"],
)  # fmt: skip
def test_refuses_bad_options_before_touching_the_rpc(options, field):
    # An unreachable RPC: the options are judged first.
    with pytest.raises(ConfigError, match=field) as err:
        mn.place_mainnet_preset(f"http://127.0.0.1:{free_port()}", **options)
    assert "\n" not in str(err.value)


def test_parse_v3_ranges():
    assert mn.parse_v3_ranges(["500:200:0.1", "500:100", "3000:50"]) == {
        500: (mn.V3Range(Decimal(200), Decimal("0.1")), mn.V3Range(Decimal(100))),
        3000: (mn.V3Range(Decimal(50)),),
    }
    with pytest.raises(ConfigError, match="FEE:WETH"):
        mn.parse_v3_ranges(["500"])


def test_script_prints_a_refusal_in_one_line():
    done = subprocess.run(
        [sys.executable, "scripts/mainnet_preset.py", "--rpc", "http://127.0.0.1:9",
         "--price", "0"],
        cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "mainnet preset: price must be" in done.stderr
