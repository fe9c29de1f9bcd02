# pragma version ~=0.4.3
"""
@title ammlab constant-product pool
@notice A Uniswap V2 pair with a configurable fee and no factory: same ABI, same
        events, same integer maths. With `fee_bps == 30` every number (K check, first
        mint `isqrt(x * y) - 1000`, TWAP accumulators) equals Uniswap V2 to the wei.
        Tokens are moved in first (plain ERC20 transfers to this contract), then
        `mint`, `swap` or `burn` measure what arrived from balance deltas; the K
        invariant is checked last. Callers are expected to be a router or a contract
        that does its own slippage checks.

        Differences from Uniswap V2, on purpose:
        - no protocol fee (no `feeTo`, no `kLast`): all fees stay with the LPs;
        - no `permit` (EIP-2612) and no factory: the pool is deployed directly;
        - the fee is an immutable `feeBps` (basis points, < 10_000) instead of 0.3%;
        - token0/token1/feeBps are immutables (in code), not storage;
        - the reentrancy lock is Vyper's `@nonreentrant` (transient storage since
          Cancun); a re-entered call reverts without a reason string;
        - balances are bounded to uint112 before any multiplication ("pool: overflow"),
          so every maths failure has a reason instead of a bare overflow revert.

        MINIMUM_LIQUIDITY (1000 LP wei) is minted to the zero address on the first
        mint and can never be burned, exactly as in Uniswap V2: the LP token is this
        contract's own ledger, so nothing forbids crediting address(0).

        Units: token amounts are base units of each token; LP amounts are LP wei
        (18 decimals); `feeBps` is basis points of the input amount; timestamps are
        seconds modulo 2**32; cumulative prices are UQ112x112 (price * 2**112) summed
        per second and wrap modulo 2**256 by design.
@custom:revert-strings "pool: ..."
"""

from ethereum.ercs import IERC20


interface IUniswapV2Callee:
    def uniswapV2Call(sender: address, amount0: uint256, amount1: uint256, data: Bytes[1024]): nonpayable


# @dev LP supply locked forever at the first mint, in LP wei.
MINIMUM_LIQUIDITY: public(constant(uint256)) = 1000
# @dev Basis points in one unit of input (fees are `amountIn * feeBps / 10_000`).
FEE_DENOMINATOR: constant(uint256) = 10_000
# @dev Largest reserve (uint112), as in Uniswap V2's packed slot.
MAX_UINT112: constant(uint256) = 2**112 - 1
MASK_UINT32: constant(uint256) = 2**32 - 1
# @dev Largest flash-swap callback payload, in bytes.
MAX_CALLBACK_DATA: constant(uint256) = 1024

# @dev LP token metadata (the pool is its own ERC20).
name: public(constant(String[32])) = "ammlab CPMM LP"
symbol: public(constant(String[8])) = "AMM-LP"
decimals: public(constant(uint8)) = 18

# @dev The pool's tokens, sorted by address (token0 < token1) as V2's factory does.
token0: public(immutable(address))
token1: public(immutable(address))
# @dev Swap fee in basis points of the input amount (30 = Uniswap V2's 0.3%).
feeBps: public(immutable(uint256))

# @dev reserve0 (bits 0..111) | reserve1 (bits 112..223) | blockTimestampLast mod 2**32
#      (bits 224..255): Uniswap V2's single packed slot, read once per call.
_slot0: uint256
# @dev Sum over seconds of the UQ112x112 price of token0 in token1 (reserve1 / reserve0)
#      and of token1 in token0; wraps modulo 2**256 by design (only differences matter).
price0CumulativeLast: public(uint256)
price1CumulativeLast: public(uint256)

# @dev LP token ledger, in LP wei.
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])


event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256


event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256


event Mint:
    sender: indexed(address)
    amount0: uint256
    amount1: uint256


event Burn:
    sender: indexed(address)
    amount0: uint256
    amount1: uint256
    to: indexed(address)


event Swap:
    sender: indexed(address)
    amount0In: uint256
    amount1In: uint256
    amount0Out: uint256
    amount1Out: uint256
    to: indexed(address)


event Sync:
    reserve0: uint112
    reserve1: uint112


@deploy
def __init__(token_a: address, token_b: address, fee_bps: uint256):
    """
    @param token_a One of the pool's tokens (any order).
    @param token_b The other token.
    @param fee_bps Swap fee in basis points of the input, < 10_000.
    """
    assert token_a != token_b, "pool: identical tokens"
    assert token_a != empty(address) and token_b != empty(address), "pool: zero address"
    assert fee_bps < FEE_DENOMINATOR, "pool: fee too high"
    lower: address = token_a
    higher: address = token_b
    if convert(token_b, uint256) < convert(token_a, uint256):
        lower = token_b
        higher = token_a
    token0 = lower
    token1 = higher
    feeBps = fee_bps


@view
@external
def getReserves() -> (uint112, uint112, uint32):
    """
    @notice Reserves as of the last update (base units) and that update's timestamp
            (seconds modulo 2**32).
    """
    packed: uint256 = self._slot0
    return (
        convert(packed & MAX_UINT112, uint112),
        convert((packed >> 112) & MAX_UINT112, uint112),
        convert(packed >> 224, uint32),
    )


@external
@nonreentrant
def mint(to: address) -> uint256:
    """
    @notice Mint LP tokens to `to` for the tokens transferred in since the last update.
    @dev The first mint gives `isqrt(amount0 * amount1) - MINIMUM_LIQUIDITY` and locks
         MINIMUM_LIQUIDITY at the zero address; later mints give the smaller of the two
         pro-rata shares, so unbalanced deposits donate the excess to the pool.
    @return LP wei minted to `to`.
    """
    packed: uint256 = self._slot0
    reserve0: uint256 = packed & MAX_UINT112
    reserve1: uint256 = (packed >> 112) & MAX_UINT112
    balance0: uint256 = staticcall IERC20(token0).balanceOf(self)
    balance1: uint256 = staticcall IERC20(token1).balanceOf(self)
    assert balance0 <= MAX_UINT112 and balance1 <= MAX_UINT112, "pool: overflow"
    amount0: uint256 = balance0 - reserve0
    amount1: uint256 = balance1 - reserve1

    supply: uint256 = self.totalSupply
    liquidity: uint256 = 0
    if supply == 0:
        root: uint256 = isqrt(unsafe_mul(amount0, amount1))  # < 2**224: no overflow
        assert root > MINIMUM_LIQUIDITY, "pool: insufficient liquidity minted"
        liquidity = unsafe_sub(root, MINIMUM_LIQUIDITY)
        self._mint(empty(address), MINIMUM_LIQUIDITY)
    else:
        liquidity = min(amount0 * supply // reserve0, amount1 * supply // reserve1)
    assert liquidity > 0, "pool: insufficient liquidity minted"
    self._mint(to, liquidity)

    self._update(balance0, balance1, reserve0, reserve1, packed >> 224)
    log Mint(sender=msg.sender, amount0=amount0, amount1=amount1)
    return liquidity


@external
@nonreentrant
def burn(to: address) -> (uint256, uint256):
    """
    @notice Burn the LP tokens held by the pool itself (transferred in by the caller)
            and send the pro-rata share of both balances to `to`.
    @return (amount0, amount1) sent to `to`, in base units.
    """
    packed: uint256 = self._slot0
    balance0: uint256 = staticcall IERC20(token0).balanceOf(self)
    balance1: uint256 = staticcall IERC20(token1).balanceOf(self)
    assert balance0 <= MAX_UINT112 and balance1 <= MAX_UINT112, "pool: overflow"
    liquidity: uint256 = self.balanceOf[self]

    amount0: uint256 = 0
    amount1: uint256 = 0
    if liquidity > 0:  # implies totalSupply > 0
        supply: uint256 = self.totalSupply
        amount0 = liquidity * balance0 // supply
        amount1 = liquidity * balance1 // supply
    assert amount0 > 0 and amount1 > 0, "pool: insufficient liquidity burned"
    self._burn(self, liquidity)
    self._safe_transfer(token0, to, amount0)
    self._safe_transfer(token1, to, amount1)

    balance0 = staticcall IERC20(token0).balanceOf(self)
    balance1 = staticcall IERC20(token1).balanceOf(self)
    self._update(
        balance0, balance1, packed & MAX_UINT112, (packed >> 112) & MAX_UINT112, packed >> 224
    )
    log Burn(sender=msg.sender, amount0=amount0, amount1=amount1, to=to)
    return (amount0, amount1)


@external
@nonreentrant
def swap(amount0Out: uint256, amount1Out: uint256, to: address, data: Bytes[MAX_CALLBACK_DATA]):
    """
    @notice Send `amount0Out` / `amount1Out` to `to`, then require that enough input
            arrived for the fee-adjusted K not to decrease.
    @dev Optimistic transfer: the outputs leave first; with non-empty `data`, `to` is
         called back (`uniswapV2Call`) and may pay inside the callback (flash swap).
         The input is what the balances hold beyond `reserve - amountOut`. The check is
         `(b0 * 10_000 - in0 * feeBps) * (b1 * 10_000 - in1 * feeBps)
            >= r0 * r1 * 10_000**2`.
    """
    assert amount0Out > 0 or amount1Out > 0, "pool: insufficient output amount"
    packed: uint256 = self._slot0
    reserve0: uint256 = packed & MAX_UINT112
    reserve1: uint256 = (packed >> 112) & MAX_UINT112
    assert amount0Out < reserve0 and amount1Out < reserve1, "pool: insufficient liquidity"
    assert to != token0 and to != token1, "pool: invalid to"

    if amount0Out > 0:
        self._safe_transfer(token0, to, amount0Out)
    if amount1Out > 0:
        self._safe_transfer(token1, to, amount1Out)
    if len(data) > 0:
        extcall IUniswapV2Callee(to).uniswapV2Call(msg.sender, amount0Out, amount1Out, data)
    balance0: uint256 = staticcall IERC20(token0).balanceOf(self)
    balance1: uint256 = staticcall IERC20(token1).balanceOf(self)

    # Whatever the pool holds beyond `reserve - amountOut` came in during this call.
    remaining0: uint256 = unsafe_sub(reserve0, amount0Out)  # amount0Out < reserve0
    remaining1: uint256 = unsafe_sub(reserve1, amount1Out)
    amount0In: uint256 = 0
    amount1In: uint256 = 0
    if balance0 > remaining0:
        amount0In = unsafe_sub(balance0, remaining0)
    if balance1 > remaining1:
        amount1In = unsafe_sub(balance1, remaining1)
    assert amount0In > 0 or amount1In > 0, "pool: insufficient input amount"
    assert balance0 <= MAX_UINT112 and balance1 <= MAX_UINT112, "pool: overflow"

    # Bounded: b < 2**112 so b * 10_000 < 2**126, in <= b and feeBps < 10_000, so no
    # term can overflow or underflow and both products stay below 2**252.
    adjusted0: uint256 = unsafe_sub(
        unsafe_mul(balance0, FEE_DENOMINATOR), unsafe_mul(amount0In, feeBps)
    )
    adjusted1: uint256 = unsafe_sub(
        unsafe_mul(balance1, FEE_DENOMINATOR), unsafe_mul(amount1In, feeBps)
    )
    assert unsafe_mul(adjusted0, adjusted1) >= unsafe_mul(
        unsafe_mul(reserve0, reserve1), FEE_DENOMINATOR * FEE_DENOMINATOR
    ), "pool: K"

    self._update(balance0, balance1, reserve0, reserve1, packed >> 224)
    log Swap(
        sender=msg.sender,
        amount0In=amount0In,
        amount1In=amount1In,
        amount0Out=amount0Out,
        amount1Out=amount1Out,
        to=to,
    )


@external
@nonreentrant
def skim(to: address):
    """
    @notice Send `to` whatever the balances hold beyond the reserves (donations,
            tokens sent without a mint or swap).
    """
    packed: uint256 = self._slot0
    self._safe_transfer(
        token0, to, staticcall IERC20(token0).balanceOf(self) - (packed & MAX_UINT112)
    )
    self._safe_transfer(
        token1, to, staticcall IERC20(token1).balanceOf(self) - ((packed >> 112) & MAX_UINT112)
    )


@external
@nonreentrant
def sync():
    """
    @notice Set the reserves to the balances (accruing the TWAP first).
    """
    packed: uint256 = self._slot0
    self._update(
        staticcall IERC20(token0).balanceOf(self),
        staticcall IERC20(token1).balanceOf(self),
        packed & MAX_UINT112,
        (packed >> 112) & MAX_UINT112,
        packed >> 224,
    )


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Move `amount` LP wei from the caller to `to`.
    """
    self._transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Move `amount` LP wei from `owner` to `to` with the caller's allowance
            (max_value(uint256) is an infinite allowance, never decremented).
    """
    current: uint256 = self.allowance[owner][msg.sender]
    if current != max_value(uint256):
        assert current >= amount, "pool: insufficient allowance"
        self.allowance[owner][msg.sender] = unsafe_sub(current, amount)
    self._transfer(owner, to, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Let `spender` move up to `amount` LP wei of the caller's.
    """
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@internal
def _update(balance0: uint256, balance1: uint256, reserve0: uint256, reserve1: uint256, last: uint256):
    """
    @dev Accrue the TWAP with the old reserves over the seconds since `last`, then
         store the balances as reserves. Timestamps wrap modulo 2**32 and the
         accumulators modulo 2**256, as in Uniswap V2.
    """
    assert balance0 <= MAX_UINT112 and balance1 <= MAX_UINT112, "pool: overflow"
    now: uint256 = block.timestamp & MASK_UINT32
    elapsed: uint256 = unsafe_sub(now, last) & MASK_UINT32
    if elapsed > 0 and reserve0 != 0 and reserve1 != 0:
        # (r << 112) // r' < 2**224 and elapsed < 2**32: the product fits; the sum wraps.
        self.price0CumulativeLast = unsafe_add(
            self.price0CumulativeLast, unsafe_mul(unsafe_div(reserve1 << 112, reserve0), elapsed)
        )
        self.price1CumulativeLast = unsafe_add(
            self.price1CumulativeLast, unsafe_mul(unsafe_div(reserve0 << 112, reserve1), elapsed)
        )
    self._slot0 = balance0 | (balance1 << 112) | (now << 224)
    log Sync(reserve0=convert(balance0, uint112), reserve1=convert(balance1, uint112))


@internal
def _safe_transfer(token: address, to: address, amount: uint256):
    # Accepts tokens that return nothing (USDT-style) as well as `true`.
    assert extcall IERC20(token).transfer(to, amount, default_return_value=True), "pool: transfer failed"


@internal
def _mint(to: address, amount: uint256):
    self.totalSupply += amount
    # Cannot overflow: bounded by totalSupply.
    self.balanceOf[to] = unsafe_add(self.balanceOf[to], amount)
    log Transfer(sender=empty(address), receiver=to, value=amount)


@internal
def _burn(owner: address, amount: uint256):
    # amount is the owner's whole balance here, so neither subtraction can underflow.
    self.balanceOf[owner] = unsafe_sub(self.balanceOf[owner], amount)
    self.totalSupply = unsafe_sub(self.totalSupply, amount)
    log Transfer(sender=owner, receiver=empty(address), value=amount)


@internal
def _transfer(owner: address, to: address, amount: uint256):
    owner_balance: uint256 = self.balanceOf[owner]
    assert owner_balance >= amount, "pool: insufficient balance"
    self.balanceOf[owner] = unsafe_sub(owner_balance, amount)
    self.balanceOf[to] = unsafe_add(self.balanceOf[to], amount)
    log Transfer(sender=owner, receiver=to, value=amount)
