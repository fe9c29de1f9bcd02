"""`ape run deploy --network ethereum:mainnet:node`: deploy and seed the suite on the anvil Ape
is connected to, and write the manifest (as `ammlab chain up` does on its upstream).

Set AMMLAB_HOME to choose where the manifest goes.
"""

import click
from ape.cli import ConnectedProviderCommand

from sim.chain.node import manifest_path, write_manifest
from sim.chain.suite import SuiteSpec, deploy_suite


@click.command(cls=ConnectedProviderCommand)
@click.option("--price", default="3000", show_default=True, help="Seed price, USDC per WETH.")
def cli(price):
    from decimal import Decimal

    from ape import chain

    manifest = deploy_suite(chain.provider.uri, SuiteSpec(price=Decimal(price)))
    write_manifest(manifest)
    click.echo(f"suite deployed on chain {manifest['chain_id']}; manifest at {manifest_path()}")
