"""Chain backend with the oracle-priced venue: scenarios/full.yaml (two pools, a feed and a
TWAP, the oracle venue, CEX-DEX and cross arbitrage, noise, an LP, an oracle sniper, a sandwich
bot) runs through the contracts with exact parity at every block; the sniper's trades are real
`OracleSwap` swaps; a broken venue twin is caught at the right block and field."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sim.chain.backend import run_on_chain
from sim.chain.node import private_anvil as anvil
from sim.engine.core import Engine
from sim.engine.exact import ExactWorld
from sim.errors import ConfigError
from sim.scenario import load_scenario
from sim.venues.oracle_swap.twin import OracleSwap

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = 250


@pytest.fixture(scope="module")
def oswap_anvil():
    with anvil(None) as url:
        yield url


def _full():
    return load_scenario(ROOT / "scenarios" / "full.yaml", [f"blocks.n_blocks={BLOCKS}", "paths=1"])


def test_full_scenario_matches_the_chain_at_every_block(oswap_anvil, tmp_path):
    sc = _full()
    run = run_on_chain(sc, oswap_anvil, bundle_dir=tmp_path)
    assert run.report.divergence is None and run.bundle is None
    assert run.report.blocks == BLOCKS
    kinds = Counter((a["kind"], a["agent"]) for r in run.records for a in r.actions if "agent" in a)
    assert kinds[("oswap_swap", "sniper")] > 10
    # Both directions: the sniper buys at a stale ask and sells at a stale bid.
    sides = {a["token_in"] for r in run.records for a in r.actions if a["kind"] == "oswap_swap"}
    assert sides == {"risky", "numeraire"}
    # Every agent of the issue-3 set sent something.
    senders = {who for (_kind, who) in kinds}
    assert {"arb", "xarb", "sniper", "noise", "noise2"} <= senders
    # The venue's inventory moved by exactly what the sniper took (parity held on it).
    last = run.records[-1].state
    first = run.session.world.setup.state
    for tok in ("risky", "numeraire"):
        venue_delta = last[f"oswap.oracle_venue.{tok}"] - first[f"oswap.oracle_venue.{tok}"]
        sniper_delta = last[f"agent.sniper.{tok}"] - first[f"agent.sniper.{tok}"]
        assert venue_delta == -sniper_delta != 0
    # The exact world is the fast engine up to base-unit rounding.
    fast = Engine(sc, fused=False).run().worlds
    for k, v in fast.items():
        np.testing.assert_allclose(run.result.worlds[k], v, rtol=1e-6, atol=1e-6, err_msg=k)


def test_broken_venue_twin_is_caught_at_the_first_swap(oswap_anvil, tmp_path, monkeypatch):
    """The twin keeps one wei too much of the input: the first swap's block shows it."""
    swap = OracleSwap.swap

    def leaky(self, token_in, amount_in, *args):
        out = swap(self, token_in, amount_in, *args)
        self.inventory[token_in] += 1
        return out

    monkeypatch.setattr(OracleSwap, "swap", leaky)
    run = run_on_chain(_full(), oswap_anvil, bundle_dir=tmp_path)
    div = run.report.divergence
    first = next(r for r in run.records if any(a["kind"] == "oswap_swap" for a in r.actions))
    assert div is not None and div.block == first.block
    assert div.field.startswith("oswap.oracle_venue.")
    assert div.expected == div.chain + 1
    assert run.bundle is not None and (run.bundle / "bundle.json").exists()


def test_a_twap_priced_venue_is_refused_by_field():
    sc = load_scenario(ROOT / "scenarios" / "full.yaml", ["venues.0.oracle=twap", "paths=1"])
    with pytest.raises(ConfigError, match=r"venues\.oracle_venue\.oracle: .*TWAP"):
        ExactWorld(sc)
