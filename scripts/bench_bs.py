"""Accuracy and gas of contracts/BlackScholes.vy, next to the Lyra v1 anchors.

Run from the repository root::

    python scripts/bench_bs.py [--n 20000] [--seed 1] [--no-gas]

Accuracy: N random options of the contract's domain (seeded), evaluated with the exact integer
twin `sim.venues.options.bs` (equal to the contract to the wei: tests/contracts/test_black_scholes.py)
and compared with a 50-digit `decimal` reference. Sampling: spot log-uniform in [1e-6, 1e12]
quote units, strike/spot log-uniform in [0.2, 5], tau uniform in [1 h, 2 y], vol log-uniform in
[1 %, 500 %], rate 0 for half the draws and uniform in [-5 %, 20 %] for the rest, call or put
with probability 1/2. Two kinds of figure:

* "beyond rounding": |error| minus the 0.5 wei that rounding to a wad output must cost,
  divided by the reference value: what the algorithm itself gets wrong;
* "raw": the plain relative error, over the draws with spot >= 1 quote unit (below that, a
  wad output cannot hold 12 significant digits of a 1e-6-of-spot price).

Gas: eth_estimateGas of one call to the harness's `price` and `greeks` (21,000 intrinsic gas
and calldata included, as the Lyra anchors), worst of a few inputs, on a fresh anvil; and the
execution gas of the maths alone (`greeks_gas`, measured in-contract with `msg.gas`).
It prints a markdown table that the README can include.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.venues.options import bs  # noqa: E402

WAD = 10**18
DAY = 86_400
HALF_WEI = Decimal("0.5") / WAD

# Lyra v1 BlackScholes.sol (27-decimal internals), measured on this project's machine.
LYRA = {
    "price_max_rel": "2.2e-12",
    "price_median_rel": "1.4e-16",
    "n": 300,
    "gas_price": 58_000,
    "gas_price_delta_vega": 79_600,
}


def sample(n: int, seed: int) -> list[tuple[int, int, int, int, int, bool]]:
    """N random options of the domain, as contract arguments (see the module docstring)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        spot = min(max(int(10 ** rng.uniform(12, 30)), bs.SPOT_MIN), bs.SPOT_MAX)
        strike = int(spot * 10 ** rng.uniform(np.log10(0.2), np.log10(5)))
        strike = min(max(strike, (spot + 4) // 5), 5 * spot)
        tau = int(rng.integers(bs.TAU_MIN, bs.TAU_MAX, endpoint=True))
        vol = int(10 ** rng.uniform(16, np.log10(5e18)))
        rate = 0 if rng.random() < 0.5 else int(rng.uniform(-0.05, 0.20) * WAD)
        out.append((spot, strike, tau, vol, rate, bool(rng.random() < 0.5)))
    return out


def accuracy(options) -> dict[str, float]:
    price_beyond: list[float] = []
    price_raw: list[float] = []
    worst = dict.fromkeys(("delta", "gamma", "vega", "theta", "parity"), 0.0)
    spot_norm = dict.fromkeys(("gamma", "vega", "theta"), 0.0)
    for spot, strike, tau, vol, rate, is_call in options:
        g = bs.bs_greeks_int(spot, strike, tau, vol, rate, is_call)
        s = Decimal(spot) / WAD
        ref = bs.reference_price_greeks(
            s,
            Decimal(strike) / WAD,
            Decimal(tau) / bs.YEAR,
            Decimal(vol) / WAD,
            Decimal(rate) / WAD,
            is_call,
        )
        err = abs(Decimal(g.price) / WAD - ref["price"])
        if ref["price"] > s * Decimal("1e-6"):
            price_beyond.append(float(max(err - HALF_WEI, 0) / ref["price"]))
            if spot >= WAD:
                price_raw.append(float(err / ref["price"]))
        worst["delta"] = max(worst["delta"], float(abs(Decimal(g.delta) / WAD - ref["delta"])))
        for name in ("gamma", "vega", "theta"):
            r = ref[name]
            e = max(abs(Decimal(getattr(g, name)) / WAD - r) - HALF_WEI, 0)
            # relative where the Greek is not tiny against the spot, else spot-normalised
            scale = s if name == "gamma" else 1 / s
            if abs(r) * scale > Decimal("1e-9"):
                worst[name] = max(worst[name], float(e / abs(r)))
            else:
                spot_norm[name] = max(spot_norm[name], float(e * scale))
        other = bs.bs_price_int(spot, strike, tau, vol, rate, not is_call)
        call, put = (g.price, other) if is_call else (other, g.price)
        parity = Decimal(call - put) / WAD - (s - Decimal(strike) / WAD * ref["df"])
        k = Decimal(strike) / WAD
        worst["parity"] = max(worst["parity"], float(max(abs(parity) - 2 / Decimal(WAD), 0) / k))
    return {
        "n_price": len(price_beyond),
        "price_max": max(price_beyond),
        "price_median": statistics.median(price_beyond),
        "price_raw_n": len(price_raw),
        "price_raw_max": max(price_raw),
        "price_raw_median": statistics.median(price_raw),
        **worst,
        **{f"{k}_spot": v for k, v in spot_norm.items()},
    }


def gas() -> dict[str, int]:
    """Per-call gas on a fresh local anvil (Ape's foundry provider)."""
    import ape

    cases = [
        (1_500 * WAD, 1_500 * WAD, 30 * DAY, 8 * 10**17, 0, True),
        (1_500 * WAD, 1_800 * WAD, 7 * DAY, 6 * 10**17, 5 * 10**16, False),
        (1_500 * WAD, 400 * WAD, bs.YEAR, 10**18, 5 * 10**16, True),
        (1_500 * WAD, 1_450 * WAD, 3_600, 10**16, 5 * 10**16, True),
        (1_500 * WAD, 1_520 * WAD, 14 * DAY, 9 * 10**17, 0, False),
    ]
    with ape.networks.parse_network_choice("ethereum:local:foundry"):
        owner = ape.accounts.test_accounts[0]
        harness = owner.deploy(ape.project.BlackScholesHarness)
        out = {
            "price": max(harness.price.estimate_gas_cost(*c, sender=owner) for c in cases),
            "greeks": max(harness.greeks.estimate_gas_cost(*c, sender=owner) for c in cases),
        }
        inner = [harness.greeks_gas(*c) for c in cases]
        out["price_exec"] = max(int(i[0]) for i in inner)
        out["greeks_exec"] = max(int(i[1]) for i in inner)
    return out


def table(acc: dict, n: int, seed: int, g: dict | None) -> str:
    lines = [
        f"Black–Scholes accuracy: N = {n} random options of the domain (seed {seed}), "
        "against Python decimal at 50 digits.",
        "",
        "| figure | ammlab BlackScholes.vy | Lyra v1 BlackScholes.sol |",
        "|---|---|---|",
        f"| price, max rel. error beyond 0.5 wei rounding (price > 1e-6 spot, "
        f"{acc['n_price']} draws) | {acc['price_max']:.1e} | — |",
        f"| price, median of the same | {acc['price_median']:.1e} | — |",
        f"| price, max raw rel. error (spot >= 1, {acc['price_raw_n']} draws) "
        f"| {acc['price_raw_max']:.1e} | {LYRA['price_max_rel']} ({LYRA['n']} draws, call) |",
        f"| price, median raw rel. error | {acc['price_raw_median']:.1e} "
        f"| {LYRA['price_median_rel']} |",
        f"| put-call parity C - P - (S - K e^(-rT)), max abs. error beyond 2 wei, / K "
        f"| {acc['parity']:.1e} | — |",
        f"| delta, max abs. error | {acc['delta']:.1e} | — |",
        f"| gamma, max rel. error beyond 0.5 wei (gamma S > 1e-9) | {acc['gamma']:.1e} | — |",
        f"| gamma, max abs. error x S (elsewhere) | {acc['gamma_spot']:.1e} | — |",
        f"| vega, max rel. error beyond 0.5 wei (vega / S > 1e-9) | {acc['vega']:.1e} | — |",
        f"| vega, max abs. error / S (elsewhere) | {acc['vega_spot']:.1e} | — |",
        f"| theta, max rel. error beyond 0.5 wei (theta / S > 1e-9) | {acc['theta']:.1e} | — |",
        f"| theta, max abs. error / S (elsewhere) | {acc['theta_spot']:.1e} | — |",
    ]
    if g is not None:
        lines += [
            f"| gas per call, price only (eth_estimateGas) | {g['price']:,} "
            f"| {LYRA['gas_price']:,} (optionPrices) |",
            f"| gas per call, price + delta + gamma + vega + theta | {g['greeks']:,} "
            f"| {LYRA['gas_price_delta_vega']:,} (price + delta + vega only) |",
            f"| execution gas of the maths alone, price / all Greeks | "
            f"{g['price_exec']:,} / {g['greeks_exec']:,} | — |",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="random options (default 20000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-gas", action="store_true", help="skip the anvil gas figures")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    acc = accuracy(sample(args.n, args.seed))
    t_acc = time.perf_counter() - t0
    g = None if args.no_gas else gas()
    print(table(acc, args.n, args.seed, g))
    print(f"\n(accuracy pass {t_acc:.0f} s)")


if __name__ == "__main__":
    main()
