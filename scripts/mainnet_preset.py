"""Place the mainnet preset on a running anvil (chain id 1) and print or write its manifest.

Usage: PYTHONPATH=. python scripts/mainnet_preset.py --rpc URL [--price 3000] [--v2-weth 1000]
       [--v3 FEE:WETH[:WIDTH] ...] [--out manifest.json]

    anvil --chain-id 1 --port 8545 &
    PYTHONPATH=. python scripts/mainnet_preset.py --rpc http://127.0.0.1:8545 --out preset.json

`--v3` replaces the default positions (sim.chain.mainnet.DEFAULT_V3_DEPTHS) as a whole:
`--v3 500:200:0.1 --v3 3000:100` mints 200 WETH over ±10 % in the 0.05 % pool and 100 WETH
over the full range of the 0.30 % pool. A refusal prints one line and exits 1.
"""

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation

from sim.atomic import atomic_write_text
from sim.chain.mainnet import (
    DEFAULT_V2_WETH_DEPTH,
    DEFAULT_V3_DEPTHS,
    parse_v3_ranges,
    place_mainnet_preset,
)
from sim.errors import SimError


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as err:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpc", required=True, help="the anvil's URL (started with --chain-id 1)")
    parser.add_argument("--price", type=_decimal, default=Decimal(3000), help="USDC per WETH")
    parser.add_argument(
        "--v2-weth", type=_decimal, default=DEFAULT_V2_WETH_DEPTH, help="WETH in the V2 pair"
    )
    parser.add_argument(
        "--v3", action="append", default=[], metavar="FEE:WETH[:WIDTH]", help="a V3 position"
    )
    parser.add_argument("--out", help="write the manifest here instead of printing it")
    args = parser.parse_args()
    try:
        v3_depths = parse_v3_ranges(args.v3) if args.v3 else DEFAULT_V3_DEPTHS
        manifest = place_mainnet_preset(args.rpc, args.price, args.v2_weth, v3_depths)
    except SimError as err:
        sys.exit(f"mainnet preset: {err}")
    text = json.dumps(manifest, indent=2)
    if args.out:
        atomic_write_text(args.out, text + "\n")
        print(f"mainnet preset placed on {args.rpc}; manifest in {args.out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
