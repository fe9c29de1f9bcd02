# pragma version ~=0.4.3
"""
@title ammlab ERC20 token
@notice A plain ERC20 (EIP-20) with a single minter, used as the pools' test and
        simulation assets. Amounts are in the token's base units (10**decimals per
        whole token). An allowance of max_value(uint256) is treated as infinite and
        is never decremented (as in Uniswap V2's LP token and OpenZeppelin >= 4.5).
        Transfers of zero are allowed (Uniswap V2's `skim` relies on it); transfers
        and mints to the zero address are refused.
@custom:revert-strings "erc20: ..."
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed

implements: IERC20
implements: IERC20Detailed


# @dev Token metadata, fixed at deployment.
name: public(String[64])
symbol: public(String[32])
decimals: public(uint8)

# @dev Supply and balances in base units.
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])

# @dev The only account allowed to `mint`; it may hand the role over.
minter: public(address)


event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256


event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256


event MinterChanged:
    previous_minter: indexed(address)
    new_minter: indexed(address)


@deploy
def __init__(name: String[64], symbol: String[32], decimals: uint8, minter: address):
    """
    @param name Token name.
    @param symbol Token symbol.
    @param decimals Number of decimals of one whole token.
    @param minter Account allowed to mint (the zero address disables minting).
    """
    self.name = name
    self.symbol = symbol
    self.decimals = decimals
    self.minter = minter
    log MinterChanged(previous_minter=empty(address), new_minter=minter)


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Move `amount` base units from the caller to `to`.
    """
    self._transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Move `amount` base units from `owner` to `to` using the caller's allowance.
    """
    self._spend_allowance(owner, msg.sender, amount)
    self._transfer(owner, to, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Let `spender` move up to `amount` base units of the caller's tokens.
    """
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def mint(to: address, amount: uint256):
    """
    @notice Create `amount` base units for `to`; only the minter.
    """
    assert msg.sender == self.minter, "erc20: not minter"
    assert to != empty(address), "erc20: mint to zero address"
    # Checked add on the supply bounds every balance, so the balance add can be unsafe.
    self.totalSupply += amount
    self.balanceOf[to] = unsafe_add(self.balanceOf[to], amount)
    log Transfer(sender=empty(address), receiver=to, value=amount)


@external
def setMinter(new_minter: address):
    """
    @notice Hand the minter role to `new_minter`; only the current minter.
    """
    assert msg.sender == self.minter, "erc20: not minter"
    log MinterChanged(previous_minter=self.minter, new_minter=new_minter)
    self.minter = new_minter


@internal
def _transfer(owner: address, to: address, amount: uint256):
    assert to != empty(address), "erc20: transfer to zero address"
    owner_balance: uint256 = self.balanceOf[owner]
    assert owner_balance >= amount, "erc20: insufficient balance"
    self.balanceOf[owner] = unsafe_sub(owner_balance, amount)
    # Cannot overflow: the sum of all balances is totalSupply.
    self.balanceOf[to] = unsafe_add(self.balanceOf[to], amount)
    log Transfer(sender=owner, receiver=to, value=amount)


@internal
def _spend_allowance(owner: address, spender: address, amount: uint256):
    current: uint256 = self.allowance[owner][spender]
    if current != max_value(uint256):
        assert current >= amount, "erc20: insufficient allowance"
        self.allowance[owner][spender] = unsafe_sub(current, amount)
