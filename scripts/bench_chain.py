"""Chain throughput: router swaps per second against one anvil, batched per block vs Ape calls.

Usage: python scripts/bench_chain.py [--blocks 20] [--per-block 200] [--ape-swaps 40]

For each anvil (a plain one as `ammlab chain up` starts it, and Ape's managed one, which always
runs with --steps-tracing): deploy the suite, send swaps one Ape contract call at a time (the
baseline), then build blocks of `per_block` swaps with sim.chain.blockbuilder (one batched request
of eth_sendTransaction, one evm_mine at the block's timestamp, one batch of receipts).
Prints a markdown table.
"""

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

from sim.chain import node as chainmod


def run_on(network, provider_settings, args, label):
    from ape import accounts as ape_accounts
    from ape import networks, project
    from web3 import Web3

    from sim.chain import session
    from sim.chain.blockbuilder import BlockBuilder
    from sim.chain.node import ROLE_INDEX
    from sim.chain.suite import deploy_suite

    abi = [i.model_dump(mode="json", by_alias=True) for i in project.Router.contract_type.abi]
    router_abi = Web3().eth.contract(abi=abi)
    with networks.parse_network_choice(network, provider_settings=provider_settings) as provider:
        manifest = deploy_suite(provider.uri)
        trader = ape_accounts.test_accounts[ROLE_INDEX["trader"]]
        session.fund_trader(
            session.load_suite(provider.uri, manifest), trader.address,
            weth=10**6 * 10**18, usdc=10**12 * 10**6,
        )  # fmt: skip
        router = project.Router.at(manifest["router"]["address"])
        pool = manifest["pools"]["venue_a"]["address"]
        weth = project.ERC20.at(manifest["tokens"]["WETH"]["address"])
        usdc = project.ERC20.at(manifest["tokens"]["USDC"]["address"])

        t0 = time.perf_counter()
        for i in range(args.ape_swaps):
            token_in, amount = (weth, 10**16) if i % 2 else (usdc, 30 * 10**6)
            router.swapExactTokensForTokens(pool, token_in, amount, 1, trader, 2**40, sender=trader)
        ape_rate = args.ape_swaps / (time.perf_counter() - t0)

        builder = BlockBuilder.connect(provider.uri)
        timestamp = provider.web3.eth.get_block("latest")["timestamp"]
        calls = [
            router_abi.encode_abi(
                "swapExactTokensForTokens", [pool, t, a, 1, trader.address, 2**40]
            )
            for t, a in ((weth.address, 10**16), (usdc.address, 30 * 10**6))
        ]
        gas = 0
        t0 = time.perf_counter()
        for _ in range(args.blocks):
            for i in range(args.per_block):
                builder.add(trader.address, router.address, calls[i % 2], 200_000)
            timestamp += 12
            receipts = builder.mine(timestamp)
            assert all(r.status == 1 for r in receipts), "a benchmark swap reverted"
            gas += sum(r.gas_used for r in receipts)
        elapsed = time.perf_counter() - t0
    n = args.blocks * args.per_block
    return [
        f"| {label} | Ape contract call, one tx per call | {args.ape_swaps} | {ape_rate:,.0f} | — | — |",
        f"| {label} | sim.chain.blockbuilder, {args.per_block} tx per block | {n:,} | "
        f"{n / elapsed:,.0f} | {args.blocks / elapsed:,.1f} | {gas / n:,.0f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--per-block", type=int, default=200)
    parser.add_argument("--ape-swaps", type=int, default=40)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="ammlab-bench-"))
    port = chainmod.free_port()
    chainmod.export_upstream_url(f"http://127.0.0.1:{port}")
    os.chdir(chainmod.project_root())
    warnings.filterwarnings("ignore")
    from ape.logging import logger

    logger.set_level("ERROR")
    rows = []
    chainmod.start_upstream(port=port, home=home)
    try:
        rows += run_on("ethereum:mainnet:node", None, args, "plain anvil")
    finally:
        chainmod.stop_upstream(home)
    rows += run_on("ethereum:local:foundry", None, args, "Ape-managed anvil (--steps-tracing)")
    print("| anvil | path | transactions | tx/s | blocks/s | mean gas |")
    print("|---|---|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
