"""`ape run deploy --network ethereum:mainnet:node`: deploy and seed the suite on any network
Ape is connected to, and write the manifest (same as `ammlab chain up` does on its upstream).

Set AMMLAB_HOME to choose where the manifest goes.
"""

import click
from ape.cli import ConnectedProviderCommand

from keeper.chain import manifest_path, write_manifest
from keeper.deploy import SuiteSpec, deploy_suite


@click.command(cls=ConnectedProviderCommand)
@click.option("--price", default="3000", show_default=True, help="Seed price, USDC per WETH.")
def cli(price):
    from decimal import Decimal

    manifest = deploy_suite(SuiteSpec(price=Decimal(price)))
    write_manifest(manifest)
    click.echo(f"suite deployed on chain {manifest['chain_id']}; manifest at {manifest_path()}")
