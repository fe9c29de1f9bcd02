"""ERC20: balances, allowances, the minter role and every revert."""

from __future__ import annotations

import ape
import pytest

pytestmark = pytest.mark.chain

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def token(project, owner):
    return owner.deploy(project.ERC20, "Wrapped Ether", "WETH", 18, owner)


def test_metadata(token, owner):
    assert (token.name(), token.symbol(), token.decimals()) == ("Wrapped Ether", "WETH", 18)
    assert token.minter() == owner.address
    assert token.totalSupply() == 0


def test_mint_and_transfer(token, owner, alice, bob):
    receipt = token.mint(alice, 100, sender=owner)
    [log] = receipt.decode_logs(token.Transfer)
    assert (log.sender, log.receiver, log.value) == (ZERO, alice.address, 100)
    token.transfer(bob, 30, sender=alice)
    assert (token.balanceOf(alice), token.balanceOf(bob), token.totalSupply()) == (70, 30, 100)
    token.transfer(bob, 0, sender=alice)  # zero transfers are allowed (V2's skim relies on it)


def test_allowance(token, owner, alice, bob):
    token.mint(alice, 100, sender=owner)
    receipt = token.approve(bob, 40, sender=alice)
    [log] = receipt.decode_logs(token.Approval)
    assert (log.owner, log.spender, log.value) == (alice.address, bob.address, 40)
    token.transferFrom(alice, bob, 15, sender=bob)
    assert token.allowance(alice, bob) == 25
    with ape.reverts("erc20: insufficient allowance"):
        token.transferFrom(alice, bob, 26, sender=bob)
    token.approve(bob, 2**256 - 1, sender=alice)
    token.transferFrom(alice, bob, 50, sender=bob)
    assert token.allowance(alice, bob) == 2**256 - 1  # infinite: never decremented


@pytest.mark.parametrize(
    ("amount", "to_zero", "reason"),
    [(101, False, "erc20: insufficient balance"), (1, True, "erc20: transfer to zero address")],
    ids=["insufficient-balance", "to-zero-address"],
)
def test_transfer_reverts(token, owner, alice, bob, amount, to_zero, reason):
    token.mint(alice, 100, sender=owner)
    with ape.reverts(reason):
        token.transfer(ZERO if to_zero else bob, amount, sender=alice)


def test_only_minter(token, owner, alice):
    with ape.reverts("erc20: not minter"):
        token.mint(alice, 1, sender=alice)
    with ape.reverts("erc20: not minter"):
        token.setMinter(alice, sender=alice)
    with ape.reverts("erc20: mint to zero address"):
        token.mint(ZERO, 1, sender=owner)
    token.setMinter(alice, sender=owner)
    token.mint(alice, 5, sender=alice)
    with ape.reverts("erc20: not minter"):
        token.mint(alice, 1, sender=owner)
    assert token.balanceOf(alice) == 5
