"""Ape networks: the one place the keeper (and the CLI on its behalf) connects through Ape.

`ape_network(choice)` connects Ape's provider (e.g. `ethereum:mainnet-fork:foundry`, a fork of
the upstream that `ammlab chain up` runs, or of `AMMLAB_UPSTREAM_RPC`) for the duration;
`ape_rpc(choice)` yields just its RPC URL, the resolver the simulator's chain runs take for
`--network` (the simulator itself never imports ape).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sim.chain import node
from sim.errors import ChainError


def prepare_ape() -> None:
    """Ape reads ape-config.yaml from the working directory and expands the upstream URL."""
    node.export_upstream_url()
    os.chdir(node.project_root())
    # ape-vyper's settings model trips a pydantic-settings warning on import; it is harmless.
    warnings.filterwarnings("ignore", message="Field 'import_remapping'")
    from ape.logging import logger

    logger.set_level("ERROR")  # keep per-transaction INFO lines out of the user's terminal


START_ATTEMPTS = 3
"""Starts of an anvil that Ape manages (a `...:foundry` network) before giving up."""


@contextmanager
def ape_network(choice: str) -> Iterator[Any]:
    """Connect Ape to `choice`, turning connection failures into one-line ChainErrors.

    Where Ape starts the anvil itself (a `...:foundry` network), it gets a port that is free
    now (`node.free_port`) rather than ape-foundry's `host: auto`, a random port it does not
    check; and a start that Ape gave up on (its fixed 20 s wait for the RPC, which a loaded
    machine can exceed) is stopped and tried again on another port, `START_ATTEMPTS` in all.
    """
    prepare_ape()
    from ape import networks
    from ape.exceptions import ApeException, RPCTimeoutError

    if choice.startswith("ethereum:mainnet"):
        node.check_upstream_reachable()
    managed = choice.endswith(":foundry")
    try:
        for attempt in range(1, START_ATTEMPTS + 1):
            settings = {"host": f"http://127.0.0.1:{node.free_port()}"} if managed else None
            context = networks.parse_network_choice(choice, provider_settings=settings)
            try:
                provider = context.__enter__()
            except RPCTimeoutError:
                context._provider.disconnect()  # stop the anvil that did not answer in time
                if attempt == START_ATTEMPTS:
                    raise
                continue
            break
        try:
            yield provider
        finally:
            context.__exit__(None)
    except ApeException as err:
        raise ChainError(f"{choice}: {str(err).splitlines()[0]}") from err


def provider_url(provider: Any, choice: str) -> str:
    """The HTTP RPC URL of a connected Ape provider."""
    uri = getattr(provider, "http_uri", None) or getattr(provider, "uri", None)
    if not uri:
        raise ChainError(f"{choice}: the provider has no RPC URL to send requests to")
    return uri


@contextmanager
def ape_rpc(choice: str) -> Iterator[str]:
    """The RPC URL of Ape network `choice`, connected for the duration."""
    with ape_network(choice) as provider:
        yield provider_url(provider, choice)
