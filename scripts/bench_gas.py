"""Gas used by the constant-product pool's transactions, against Uniswap V2's.

Run from the repository root::

    python scripts/bench_gas.py                      # ammlab pool, V2 reference figures
    python scripts/bench_gas.py --v2-build DIR       # also measure the genuine V2 pair

It starts its own anvil (``ethereum:local:foundry``), deploys two ammlab ERC20s, a 30 bps
pool and the router, and replays Uniswap V2's own gas scenario (v2-core ``swap:gas``: 5 and
10 tokens of liquidity, accumulators initialised by a ``sync`` one second later, 1 token of
token1 transferred in, then ``swap(453305446940074565, 0, wallet, "")`` one second later).
Gas is the receipt's ``gasUsed`` of the whole transaction (21,000 intrinsic and calldata
included). The same swap inside the same second as the previous update (no TWAP accrual,
so two fewer storage writes) is the figure comparable to the V2 anchor below.

``--v2-build`` takes the ``build/`` folder of the npm package ``@uniswap/v2-core@1.0.1``
(``npm pack @uniswap/v2-core@1.0.1``, untar, ``package/build``); the genuine factory and
pair are then deployed with the same ammlab tokens and measured with the same steps, so
only the pool differs. Nothing of that package is copied into this repository.

It prints a markdown table that the README can include.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ape import accounts, chain, networks, project

from sim.venues.cpmm import twin as cpmm

E18 = 10**18
# Genuine Uniswap V2 pair (Solidity 0.5.16) with V2's test ERC20, per transaction, measured
# on this machine's anvil (1.7.1, Prague rules): the anchors of the comparison.
V2_ANCHOR = {"swap, same second (anchor)": 62_746, "first mint": 154_507}


def _next_block_in(seconds: int) -> None:
    """Give the next block a timestamp `seconds` after the head's (0: the same second)."""
    chain.pending_timestamp = chain.blocks.head.timestamp + seconds


def _deploy_tokens(owner):
    tokens = []
    for name in ("Token A", "Token B"):
        token = owner.deploy(project.ERC20, name, name[-1] * 3, 18, owner)
        token.mint(owner, 10_000 * E18, sender=owner)
        tokens.append(token)
    return tokens


def _v2_container(build: Path, name: str):
    from ape.contracts import ContractContainer
    from ethpm_types import ContractType

    artifact = json.loads((build / f"{name}.json").read_text())
    return ContractContainer(
        ContractType(
            abi=artifact["abi"],
            deploymentBytecode={"bytecode": "0x" + artifact["bytecode"]},
            contractName=name,
        )
    )


def pool_scenario(pool, token0, token1, owner) -> dict[str, int]:
    """Run V2's gas scenario on any V2-ABI pool; {operation: gas of its transaction}."""
    gas: dict[str, int] = {}
    token0.transfer(pool, 5 * E18, sender=owner)
    token1.transfer(pool, 10 * E18, sender=owner)
    _next_block_in(1)
    gas["first mint"] = pool.mint(owner, sender=owner).gas_used

    _next_block_in(1)
    pool.sync(sender=owner)  # accumulators become non-zero, as in v2-core's swap:gas
    token1.transfer(pool, E18, sender=owner)
    _next_block_in(1)
    receipt = pool.swap(453305446940074565, 0, owner, b"", sender=owner)
    gas["swap, TWAP accrues (v2-core swap:gas)"] = receipt.gas_used

    token1.transfer(pool, E18, sender=owner)
    reserve0, reserve1, _ = pool.getReserves()
    out = cpmm.get_amount_out(E18, reserve1, reserve0, 30)
    _next_block_in(0)
    gas["swap, same second (anchor)"] = pool.swap(out, 0, owner, b"", sender=owner).gas_used

    token0.transfer(pool, E18, sender=owner)
    token1.transfer(pool, 2 * E18, sender=owner)
    _next_block_in(1)
    gas["later mint"] = pool.mint(owner, sender=owner).gas_used

    pool.transfer(pool, E18, sender=owner)
    _next_block_in(1)
    gas["burn"] = pool.burn(owner, sender=owner).gas_used
    return gas


def measure_ammlab() -> dict[str, int]:
    """Deploy the ammlab pool and router; gas of each measured transaction."""
    owner, user = accounts.test_accounts[0], accounts.test_accounts[1]
    token_a, token_b = _deploy_tokens(owner)
    pool = owner.deploy(project.ConstantProductPool, token_a, token_b, 30)
    token0, token1 = project.ERC20.at(pool.token0()), project.ERC20.at(pool.token1())
    gas = pool_scenario(pool, token0, token1, owner)

    router = owner.deploy(project.Router)
    for token in (token0, token1):
        token.transfer(user, 100 * E18, sender=owner)
        token.approve(router, 2**256 - 1, sender=user)
    deadline = chain.blocks.head.timestamp + 3600
    _next_block_in(1)
    receipt = router.swapExactTokensForTokens(pool, token0, E18, 0, user, deadline, sender=user)
    gas["router swapExactTokensForTokens"] = receipt.gas_used
    _next_block_in(1)
    receipt = router.addLiquidity(pool, E18, 10 * E18, 0, 0, user, deadline, sender=user)
    gas["router addLiquidity"] = receipt.gas_used
    return gas


def measure_v2(build: Path) -> dict[str, int]:
    """Deploy the genuine V2 factory and pair on ammlab tokens; same scenario."""
    owner = accounts.test_accounts[0]
    token_a, token_b = _deploy_tokens(owner)
    factory = owner.deploy(_v2_container(build, "UniswapV2Factory"), owner)
    factory.createPair(token_a, token_b, sender=owner)
    pair = _v2_container(build, "UniswapV2Pair").at(factory.getPair(token_a, token_b))
    token0, token1 = project.ERC20.at(pair.token0()), project.ERC20.at(pair.token1())
    return pool_scenario(pair, token0, token1, owner)


def markdown_table(ammlab: dict[str, int], v2: dict[str, int] | None) -> str:
    """Markdown table: ammlab gas, the V2 pair's (measured, else the anchors), difference."""
    reference = v2 if v2 is not None else V2_ANCHOR
    label = "Uniswap V2 pair, measured" if v2 is not None else "Uniswap V2 pair (anchor)"
    lines = [
        f"| transaction | ammlab pool | {label} | difference |",
        "|---|---:|---:|---:|",
    ]
    for name, used in ammlab.items():
        ref = reference.get(name)
        if ref is None:
            lines.append(f"| {name} | {used:,} | – | – |")
        else:
            diff = used - ref
            lines.append(f"| {name} | {used:,} | {ref:,} | {diff:+,} ({diff / ref:+.1%}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--v2-build",
        type=Path,
        help="build/ folder of @uniswap/v2-core@1.0.1, to measure the genuine pair too",
    )
    args = parser.parse_args()
    with networks.parse_network_choice("ethereum:local:foundry"):
        ammlab = measure_ammlab()
        v2 = measure_v2(args.v2_build) if args.v2_build else None
    print(markdown_table(ammlab, v2))
    if v2 is not None:
        print()
        print(markdown_table(ammlab, None))


if __name__ == "__main__":
    main()
