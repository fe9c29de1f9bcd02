"""Fixtures for tests on the local upstream chain and forks of it."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from sim.chain import node as chainmod

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def upstream():
    """The local upstream (chain id 1) with the suite deployed; stopped at the end."""
    from sim.chain.suite import deploy_suite

    port = urlparse(os.environ[chainmod.UPSTREAM_ENV]).port
    record = chainmod.start_upstream(port=port)
    try:
        manifest = deploy_suite(record.url)
        chainmod.write_manifest(manifest)
        yield record, manifest
    finally:
        chainmod.stop_upstream()


@pytest.fixture
def ammlab():
    """Run `ammlab ARGS` as a user would, in a fresh process."""
    return run_cli


def run_cli(
    *args: str, env: dict | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    """Run `ammlab ARGS` as a user would, in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "keeper.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
