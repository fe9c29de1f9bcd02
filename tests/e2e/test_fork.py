"""The upstream stand-in for mainnet, forks of it, and the deployed suite seen through Ape
(`ethereum:mainnet-fork:foundry`) and through the product's own web3 session."""

import pytest
from ape_suite import load_suite

from keeper.networks import ape_network
from sim.chain import node as chainmod
from sim.chain import session
from sim.errors import ManifestError

pytestmark = [pytest.mark.chain, pytest.mark.fork]

FORK = "ethereum:mainnet-fork:foundry"
UPSTREAM = "ethereum:mainnet:node"


def test_upstream_is_a_chain_id_1_standin_with_the_suite(upstream):
    record, manifest = upstream
    assert chainmod.chain_id_of(record.url) == 1
    assert manifest["chain_id"] == 1
    assert set(manifest["pools"]) == {"venue_a", "venue_b"}
    assert {p["fee_bps"] for p in manifest["pools"].values()} == {30, 5}
    assert chainmod.read_manifest(expect_chain_id=1) == manifest


def test_fork_sees_upstream_contracts_and_writes_stay_on_the_fork(upstream):
    record, manifest = upstream
    upstream_before = session.read_pool_state(session.load_suite(record.url, manifest), "venue_a")
    upstream_block = chainmod.block_number_of(record.url)

    with ape_network(FORK) as fork:  # Ape's own fork of the upstream
        assert fork.chain_id == 1
        suite = load_suite(manifest)
        assert suite.feed.latestRoundData()[1] == 3000 * 10**8
        assert suite.pools["venue_a"].getReserves()[2] > 0

    with chainmod.fork_of_upstream() as url:  # the product's plain anvil fork
        suite = session.load_suite(url, manifest)
        assert session.read_pool_state(suite, "venue_a") == upstream_before
        records = session.run_swap_session(suite, n_swaps=4, seed=7)
        assert all(r.amount_out == r.predicted_out > 0 for r in records)
        fork_after = [session.read_pool_state(suite, n) for n in suite.pools]
        assert any(s.reserve_weth != upstream_before.reserve_weth for s in fork_after)

    assert chainmod.block_number_of(record.url) == upstream_block
    suite = session.load_suite(record.url, manifest)
    assert session.read_pool_state(suite, "venue_a") == upstream_before


def test_manifest_for_another_chain_is_refused(upstream):
    _, manifest = upstream
    record, _ = upstream
    with pytest.raises(ManifestError, match="chain id 5 but the connected chain has id 1"):
        session.load_suite(record.url, {**manifest, "chain_id": 5})


def test_manifest_pointing_at_no_code_is_refused(upstream):
    _, manifest = upstream
    pools = {
        **manifest["pools"],
        "venue_a": {**manifest["pools"]["venue_a"], "address": "0x" + "12" * 20},
    }
    record, _ = upstream
    with pytest.raises(ManifestError, match="no contract code"):
        session.load_suite(record.url, {**manifest, "pools": pools})


def test_a_managed_anvil_that_misses_apes_wait_is_stopped_and_started_again(upstream, monkeypatch):
    """Ape waits a fixed 20 s for the anvil it starts (a loaded machine can exceed it): the
    product's `ape_network` stops the one that missed the wait and starts another, on another
    free port. Here the first start's wait is cut to a millisecond."""
    from ape.api.providers import SubprocessProvider

    real_start = SubprocessProvider.start
    missed: list[str] = []

    def start(self, timeout: int = 20):
        if not missed:
            missed.append(self.uri)
            return real_start(self, timeout=0.001)  # gives up before the anvil answers
        return real_start(self, timeout)

    monkeypatch.setattr(SubprocessProvider, "start", start)
    with ape_network(FORK) as fork:
        assert fork.chain_id == 1 and fork.uri != missed[0]
    (first,) = missed
    port = int(first.rsplit(":", 1)[1])
    assert not chainmod.port_in_use("127.0.0.1", port)  # the first anvil was stopped
