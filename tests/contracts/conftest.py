"""Deployments and the chain/twin harness for the contract tests.

Everything is deployed once per session; Ape's per-test snapshot isolation gives each
test a fresh copy. `Twinned` drives the deployed pool and its `sim` twin side by side
and compares their whole observable state after each step.
"""

from __future__ import annotations

from dataclasses import dataclass

import ape
import pytest

from sim.errors import Revert
from sim.venues.cpmm.twin import ZERO_ADDRESS, CPMMPool

E18 = 10**18
FUNDS = 2**120  # per user and token: enough to push a pool past uint112 on purpose
MAX_UINT256 = 2**256 - 1


@pytest.fixture(scope="session")
def owner(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def alice(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def bob(accounts):
    return accounts[2]


def _deploy_token(project, owner, name, symbol, users):
    token = owner.deploy(project.ERC20, name, symbol, 18, owner)
    for user in users:
        token.mint(user, FUNDS, sender=owner)
    return token


@pytest.fixture(scope="session")
def token_a(project, owner, alice, bob):
    return _deploy_token(project, owner, "Token A", "TKA", [owner, alice, bob])


@pytest.fixture(scope="session")
def token_b(project, owner, alice, bob):
    return _deploy_token(project, owner, "Token B", "TKB", [owner, alice, bob])


@pytest.fixture(scope="session")
def pool(project, owner, token_a, token_b):
    """A 30 bps pool (Uniswap V2's fee), empty."""
    return owner.deploy(project.ConstantProductPool, token_a, token_b, 30)


@pytest.fixture(scope="session")
def token0(project, pool):
    return project.ERC20.at(pool.token0())


@pytest.fixture(scope="session")
def token1(project, pool):
    return project.ERC20.at(pool.token1())


@pytest.fixture(scope="session")
def router(project, owner, token_a, token_b, alice, bob):
    router = owner.deploy(project.Router)
    for user in (alice, bob):
        for token in (token_a, token_b):
            token.approve(router, MAX_UINT256, sender=user)
    return router


@pytest.fixture(scope="session")
def borrower(project, owner, token_a, token_b):
    """A flash-swap borrower holding plenty of both tokens to repay with."""
    borrower = owner.deploy(project.FlashBorrower)
    for token in (token_a, token_b):
        token.transfer(borrower, 1_000 * E18, sender=owner)
    return borrower


def chain_revert_reason(err: Exception) -> str:
    """The revert string of a failed Ape call ('' when the revert had none)."""
    return getattr(err, "revert_message", None) or ""


@dataclass
class Outcome:
    """What one step did: the revert reason, or None when it succeeded."""

    reason: str | None


class Twinned:
    """The deployed pool and a `CPMMPool` twin, driven with the same steps.

    Each method performs one transaction on chain and the same operation on the twin,
    asserts both succeeded or both reverted with the same reason, and returns the
    `Outcome`. `assert_same_state` compares balances, reserves, timestamp, LP supply,
    LP balances and cumulative prices.
    """

    def __init__(self, chain, pool, token0, token1, user, holders, lens=None):
        self.chain = chain
        self.lens = lens
        self.pool = pool
        self.tokens = (token0, token1)
        self.user = user
        self.holders = [h.address if hasattr(h, "address") else h for h in holders]
        self.twin = CPMMPool(
            fee_bps=pool.feeBps(),
            address=pool.address,
            token0=token0.address,
            token1=token1.address,
        )
        reserve0, reserve1, ts = pool.getReserves()
        self.twin.balance0 = token0.balanceOf(pool)
        self.twin.balance1 = token1.balanceOf(pool)
        self.twin.reserve0, self.twin.reserve1, self.twin.block_timestamp_last = (
            reserve0,
            reserve1,
            ts,
        )
        self.twin.price0_cumulative_last = pool.price0CumulativeLast()
        self.twin.price1_cumulative_last = pool.price1CumulativeLast()
        self.twin.total_supply = pool.totalSupply()
        for h in [*self.holders, pool.address, ZERO_ADDRESS]:
            self.twin.lp_balances[h] = pool.balanceOf(h)

    # -- steps ---------------------------------------------------------------------------

    def wait(self, seconds: int) -> None:
        """Make the next transaction's block `seconds` later than the head."""
        self.chain.pending_timestamp = self.chain.blocks.head.timestamp + seconds

    def transfer_in(self, amount0: int = 0, amount1: int = 0) -> None:
        for token, amount in zip(self.tokens, (amount0, amount1), strict=True):
            if amount:
                token.transfer(self.pool, amount, sender=self.user)
        self.twin.transfer_in(amount0, amount1)

    def transfer_lp(self, amount: int, to=None) -> Outcome:
        to = self.pool.address if to is None else to
        return self._both(
            lambda: self.pool.transfer(to, amount, sender=self.user),
            lambda ts: self.twin.transfer_lp(self.user.address, str(to), amount),
        )

    def mint(self, to) -> Outcome:
        return self._both(
            lambda: self.pool.mint(to, sender=self.user),
            lambda ts: self.twin.mint(str(to), ts),
        )

    def burn(self, to) -> Outcome:
        return self._both(
            lambda: self.pool.burn(to, sender=self.user),
            lambda ts: self.twin.burn(str(to), ts),
        )

    def swap(self, amount0_out: int, amount1_out: int, to) -> Outcome:
        return self._both(
            lambda: self.pool.swap(amount0_out, amount1_out, to, b"", sender=self.user),
            lambda ts: self.twin.swap(amount0_out, amount1_out, str(to), ts),
        )

    def skim(self, to) -> Outcome:
        return self._both(
            lambda: self.pool.skim(to, sender=self.user),
            lambda ts: self.twin.skim(str(to)),
        )

    def sync(self) -> Outcome:
        return self._both(
            lambda: self.pool.sync(sender=self.user),
            lambda ts: self.twin.sync(ts),
        )

    def _both(self, on_chain, on_twin) -> Outcome:
        chain_reason = None
        try:
            receipt = on_chain()
            timestamp = self.chain.blocks[receipt.block_number].timestamp
        except ape.exceptions.ContractLogicError as err:
            chain_reason = chain_revert_reason(err)
            timestamp = self.chain.pending_timestamp
        twin_reason = None
        try:
            on_twin(timestamp)
        except Revert as err:
            twin_reason = err.reason
        assert chain_reason == twin_reason, f"chain: {chain_reason!r}, twin: {twin_reason!r}"
        return Outcome(chain_reason)

    # -- comparison ----------------------------------------------------------------------

    def chain_state(self) -> dict:
        holders = self._lp_holders()
        if self.lens is not None:  # one eth_call for the whole state
            values = list(self.lens.snapshot(self.pool, holders))
            bal0, bal1, r0, r1, ts, p0, p1, supply = values[:8]
            lp = dict(zip(holders, values[8:], strict=True))
        else:
            token0, token1 = self.tokens
            bal0, bal1 = token0.balanceOf(self.pool), token1.balanceOf(self.pool)
            r0, r1, ts = self.pool.getReserves()
            p0, p1 = self.pool.price0CumulativeLast(), self.pool.price1CumulativeLast()
            supply = self.pool.totalSupply()
            lp = {h: self.pool.balanceOf(h) for h in holders}
        return {
            "balance0": bal0,
            "balance1": bal1,
            "reserves": (r0, r1, ts),
            "price0_cumulative": p0,
            "price1_cumulative": p1,
            "total_supply": supply,
            "lp": lp,
        }

    def twin_state(self) -> dict:
        t = self.twin
        return {
            "balance0": t.balance0,
            "balance1": t.balance1,
            "reserves": t.get_reserves(),
            "price0_cumulative": t.price0_cumulative_last,
            "price1_cumulative": t.price1_cumulative_last,
            "total_supply": t.total_supply,
            "lp": {h: t.lp_balance(h) for h in self._lp_holders()},
        }

    def _lp_holders(self) -> list[str]:
        return [*self.holders, self.pool.address, ZERO_ADDRESS]

    def assert_same_state(self) -> None:
        assert self.chain_state() == self.twin_state()


@pytest.fixture(scope="session")
def lens(project, owner):
    """Reads a pool's whole state in one call (contracts/test/PoolLens.vy)."""
    return owner.deploy(project.PoolLens)


@pytest.fixture(scope="session")
def make_twinned(chain, pool, token0, token1, alice, bob, lens):
    """Factory of `Twinned` on the 30 bps pool as it is now, driven by alice."""
    return lambda: Twinned(chain, pool, token0, token1, alice, [alice, bob], lens)


@pytest.fixture
def twinned(make_twinned):
    """The empty 30 bps pool and its twin, driven by alice."""
    return make_twinned()
