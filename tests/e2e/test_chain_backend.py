"""Chain backend on a fork: the parity scenario's agents drive the real contracts block by
block with exact parity; a broken twin is caught at the right block and field; its replay
bundle reproduces the divergence."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sim.chain.backend import run_on_chain
from sim.chain.bundles import replay_bundle
from sim.chain.node import fork_of_upstream
from sim.chain.parity import Divergence
from sim.cli.run import sim_group
from sim.engine.core import Engine
from sim.engine.exact import ExactWorld
from sim.run import cut_for_chain as cut_scenario
from sim.scenario import load_scenario
from sim.venues.base import NUMERAIRE
from sim.venues.cpmm.exact import CpmmPart

pytestmark = [pytest.mark.chain, pytest.mark.fork, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PARITY = ROOT / "scenarios" / "parity.yaml"


@pytest.fixture(scope="module")
def fork_url():
    """The backend's default chain: a plain anvil forking the local upstream."""
    with fork_of_upstream() as url:
        yield url


def test_parity_scenario_matches_the_chain_at_every_block(fork_url, tmp_path):
    sc = load_scenario(PARITY)
    run = run_on_chain(sc, fork_url, bundle_dir=tmp_path)
    rep = run.report
    assert rep.divergence is None and run.bundle is None
    assert rep.blocks == sc.blocks.n_blocks
    # Every kind of transaction of the scope landed (and the refused limit orders reverted).
    assert set(rep.gas) == {"swap", "swap_reverted", "mint", "burn", "transmit"}
    agents = {a.get("agent") for r in run.records for a in r.actions}
    assert {"arb", "xarb", "noise", "noise2", "lp"} <= agents
    assert 0 < rep.gas_summary()["swap"]["mean"] < 150_000
    # The exact world is the fast engine up to base-unit rounding.
    fast = Engine(cut_scenario(sc, None), fused=False).run().worlds
    for k, v in fast.items():
        np.testing.assert_allclose(run.result.worlds[k], v, rtol=1e-6, atol=1e-6, err_msg=k)


def _first_swap_block(records, start):
    for r in records:
        if r.block >= start and any(a["kind"] == "swap" and a["status"] for a in r.actions):
            return r, next(a for a in r.actions if a["kind"] == "swap" and a["status"])
    raise AssertionError("no swap after the break")


BREAK_AT = 40


def test_off_by_one_twin_is_caught_at_its_block_and_the_bundle_reproduces_it(
    fork_url, tmp_path, monkeypatch
):
    sc = cut_scenario(load_scenario(PARITY), 80)
    honest = ExactWorld(sc).run().blocks
    block, swap = _first_swap_block(honest, BREAK_AT)

    exact_out = CpmmPart.amount_out

    def short_by_one(self, pool, token_in, amount_in):
        out = exact_out(self, pool, token_in, amount_in)
        opened = self.world._open
        return out - 1 if opened is not None and opened.block >= BREAK_AT else out

    monkeypatch.setattr(CpmmPart, "amount_out", short_by_one)
    out_dir = tmp_path / "out"
    res = CliRunner().invoke(
        sim_group,
        [
            "run",
            "--backend",
            "chain",
            str(PARITY),
            "--rpc",
            fork_url,
            "--blocks",
            "80",
            "--out",
            str(out_dir),
        ],
    )
    assert res.exit_code == 1, res.output
    assert f"parity lost at block {block.block}" in res.output

    bundles = list((out_dir / "bundles").iterdir())
    assert len(bundles) == 1
    data = json.loads((bundles[0] / "bundle.json").read_text())
    div = Divergence(**data["divergence"])
    # The twin kept one more wei of the output token than the chain did: that reserve is the
    # first field to differ (receipts all succeeded: amountOutMin was below the true output).
    risky_is_token0 = int(data["layout"]["tokens"]["risky"], 16) < int(
        data["layout"]["tokens"]["numeraire"], 16
    )
    out_token_is_risky = swap["token_in"] == NUMERAIRE
    index = 0 if out_token_is_risky == risky_is_token0 else 1
    assert div.block == block.block
    assert div.field == f"pool.{swap['pool']}.reserve{index}"
    assert div.expected == div.chain + 1
    assert data["block"] == block.block and data["seed"] == sc.seed
    assert (bundles[0] / "scenario.yaml").is_file() and (bundles[0] / "state.json").is_file()

    monkeypatch.undo()  # the replay needs no simulator: the bundle holds actions and state
    assert replay_bundle(bundles[0]) == div
    res = CliRunner().invoke(sim_group, ["replay", str(bundles[0])])
    assert res.exit_code == 0, res.output
    assert "reproduced" in res.output


def test_fee_off_by_one_bp_is_caught_on_that_pool(fork_url, tmp_path, monkeypatch):
    sc = cut_scenario(load_scenario(PARITY), 60)
    honest = ExactWorld(sc).run().blocks
    first = next(
        r.block
        for r in honest
        if any(a["kind"] == "swap" and a["pool"] == "pool2" for a in r.actions)
    )
    setup = CpmmPart.setup

    def fee_plus_one(self):
        setup(self)
        self.twins["pool2"].fee_bps += 1

    monkeypatch.setattr(CpmmPart, "setup", fee_plus_one)
    run = run_on_chain(sc, fork_url, bundle_dir=tmp_path)
    div = run.report.divergence
    assert div is not None and div.block == first
    assert div.field.startswith("pool.pool2.reserve") or div.field.endswith(".status")


def test_chain_run_writes_the_fast_engines_outputs_and_real_gas(fork_url, tmp_path):
    res = CliRunner().invoke(
        sim_group,
        [
            "run",
            "--backend",
            "chain",
            str(PARITY),
            "--rpc",
            fork_url,
            "--blocks",
            "30",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "parity: ok" in res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["engine_path"] == "chain" and summary["paths"] == 1
    assert summary["chain"]["parity"] == "ok" and summary["chain"]["blocks"] == 30
    assert "pool.lvr_rate" in summary["metrics"] and "agent.arb.pnl" in summary["metrics"]
    assert summary["chain"]["gas"]["swap"]["mean"] > 0
    assert list(tmp_path.glob("worlds.*"))
    res = CliRunner().invoke(
        sim_group,
        ["run", "--backend", "chain", str(PARITY), "--paths", "2", "--out", str(tmp_path)],
    )
    assert res.exit_code == 2 and "--paths" in res.output
