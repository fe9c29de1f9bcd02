"""Blocks built from one batched request on a fork: order, timestamp, and exact twin parity."""

import numpy as np
import pytest
from ape import project
from ape_suite import load_suite, role_account
from web3 import Web3

from keeper.networks import ape_network
from sim.chain.blockbuilder import BlockBuilder
from sim.errors import Revert
from sim.venues.cpmm.twin import CPMMPool, get_amount_out

pytestmark = [pytest.mark.chain, pytest.mark.fork]

W3 = Web3()


def encoder(contract_name):
    abi = [
        item.model_dump(mode="json", by_alias=True)
        for item in getattr(project, contract_name).contract_type.abi
    ]
    return W3.eth.contract(abi=abi)


def twin_of(pool):
    r0, r1, ts = pool.getReserves()
    return CPMMPool(
        fee_bps=pool.feeBps(),
        address=pool.address,
        token0=pool.token0(),
        token1=pool.token1(),
        balance0=r0,
        balance1=r1,
        reserve0=r0,
        reserve1=r1,
        block_timestamp_last=ts,
        price0_cumulative_last=pool.price0CumulativeLast(),
        price1_cumulative_last=pool.price1CumulativeLast(),
        total_supply=pool.totalSupply(),
    )


def test_a_block_of_swaps_lands_in_order_at_its_timestamp_and_equals_the_twin(upstream):
    _, manifest = upstream
    erc20, router = encoder("ERC20"), encoder("Router")
    rng = np.random.default_rng(42)
    with ape_network("ethereum:mainnet-fork:foundry") as fork:
        suite = load_suite(manifest)
        pool = suite.pools["venue_a"]
        twin = twin_of(pool)
        weth, usdc = suite.weth.address, suite.usdc.address
        traders = [W3.to_checksum_address(f"0x{i:040x}") for i in range(0xA11CE0, 0xA11CE5)]
        start = fork.web3.eth.get_block("latest")["timestamp"]
        deployer = role_account("deployer").address

        builder = BlockBuilder.connect(fork.uri)
        # senders pay 1-wei-apart gas prices (that is what keeps the block's order)
        builder.rpc.many([("anvil_setBalance", [t, hex(10**18)]) for t in traders])
        for t in traders:  # block 1: fund and approve
            builder.add(deployer, weth, erc20.encode_abi("mint", [t, 100 * 10**18]), 100_000)
            builder.add(deployer, usdc, erc20.encode_abi("mint", [t, 300_000 * 10**6]), 100_000)
            builder.add(
                t, weth, erc20.encode_abi("approve", [suite.router.address, 2**256 - 1]), 100_000
            )
            builder.add(
                t, usdc, erc20.encode_abi("approve", [suite.router.address, 2**256 - 1]), 100_000
            )
        assert all(r.status == 1 for r in builder.mine(start + 12))

        block_time = start + 24
        expected_status = []
        for i in range(20):  # block 2: swaps in a chosen order, one deliberately over-greedy
            trader = traders[i % len(traders)]
            sell_weth = bool(rng.integers(2))
            token_in = weth if sell_weth else usdc
            amount_in = int((10**18 if sell_weth else 3000 * 10**6) * rng.uniform(0.1, 5))
            in_is_0 = token_in == twin.token0
            r_in, r_out = (
                (twin.reserve0, twin.reserve1) if in_is_0 else (twin.reserve1, twin.reserve0)
            )
            out = get_amount_out(amount_in, r_in, r_out, twin.fee_bps)
            greedy = i == 13
            minimum = out + 1 if greedy else out
            data = router.encode_abi(
                "swapExactTokensForTokens",
                [pool.address, token_in, amount_in, minimum, trader, block_time + 60],
            )
            builder.add(trader, suite.router.address, data, 200_000)
            if greedy:
                expected_status.append(0)
                with pytest.raises(Revert):  # the twin refuses it too, state untouched
                    twin_trial = twin.copy()
                    twin_trial.transfer_in(*(amount_in, 0) if in_is_0 else (0, amount_in))
                    twin_trial.swap(*(0, minimum) if in_is_0 else (minimum, 0), trader, block_time)
                continue
            expected_status.append(1)
            twin.transfer_in(*(amount_in, 0) if in_is_0 else (0, amount_in))
            twin.swap(*(0, out) if in_is_0 else (out, 0), trader, block_time)

        receipts = builder.mine(block_time)
        block = fork.web3.eth.get_block("latest")
        assert block["timestamp"] == block_time
        assert [r.index for r in receipts] == list(range(20))
        assert [r.sender for r in receipts] == [traders[i % len(traders)] for i in range(20)]
        assert [r.status for r in receipts] == expected_status
        assert pool.getReserves() == twin.get_reserves()
        assert pool.price0CumulativeLast() == twin.price0_cumulative_last
        assert pool.price1CumulativeLast() == twin.price1_cumulative_last
