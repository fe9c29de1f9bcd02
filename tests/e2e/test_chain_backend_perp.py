"""Chain backend with perp markets, liquidators and keepers, on a fork of the local upstream:
every agent kind of scenarios/chain_all.yaml drives the real contracts with exact parity at
every block; a perp twin that charges one unit more fee is caught at the first trade after
the break, on the market's total margin, and its replay bundle reproduces it; the default
network is a fork of the local upstream and `--network` goes through Ape."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sim.chain import node as chainmod
from sim.chain.backend import run_on_chain
from sim.chain.bundles import replay_bundle
from sim.chain.node import DEFAULT_NETWORK, fork_of_upstream
from sim.chain.parity import Divergence
from sim.cli.run import sim_group
from sim.engine.core import Engine
from sim.engine.exact import ExactWorld, check_supported
from sim.errors import ConfigError
from sim.run import cut_for_chain as cut_scenario
from sim.scenario import load_scenario, scenario_from_dict
from sim.venues.perp.twin import PerpMarket

ROOT = Path(__file__).resolve().parents[2]
ALL = ROOT / "scenarios" / "chain_all.yaml"


@pytest.fixture(scope="module")
def perp_fork_url():
    """The backend's default chain: a plain anvil forking the local upstream."""
    with fork_of_upstream() as url:
        yield url


@pytest.mark.chain
@pytest.mark.fork
@pytest.mark.slow
def test_every_agent_kind_matches_the_chain_at_every_block(perp_fork_url, tmp_path):
    sc = load_scenario(ALL)
    run = run_on_chain(sc, perp_fork_url, bundle_dir=tmp_path)
    rep = run.report
    assert rep.divergence is None and run.bundle is None
    assert rep.blocks == sc.blocks.n_blocks == 300
    # Every kind of transaction landed, the refused limit orders reverted, the leveraged
    # longs were liquidated after the gap and the reference-marked perp got its own marks.
    kinds = {"swap", "swap_reverted", "mint", "burn", "transmit", "lp_transfer",
             "perp_deposit", "perp_withdraw", "perp_trade", "perp_liquidate", "perp_mark"}  # fmt: skip
    assert kinds <= set(rep.gas)
    senders = {a.get("agent", "").split("#")[0] for r in run.records for a in r.actions}
    assert {a.name for a in sc.agents} <= senders
    traded = {a["perp"] for r in run.records for a in r.actions if a["kind"] == "perp_trade"}
    assert traded == {"perp", "perp_ref"}
    assert 0 < rep.gas_summary()["perp_trade"]["mean"] < 300_000
    # The exact world is the fast engine up to base-unit rounding, perps and keepers included.
    fast = Engine(cut_scenario(sc, None), fused=False).run().worlds
    for k, v in fast.items():
        np.testing.assert_allclose(run.result.worlds[k], v, rtol=1e-6, atol=1e-6, err_msg=k)
    assert run.result.worlds["perp.perp.liquidations"][0] > 0
    assert run.result.worlds["keeper.keeper.n_trades"][0] > 0
    assert run.result.worlds["keeper.keeper2.n_trades"][0] > 0


BREAK_AT = 120


@pytest.mark.chain
@pytest.mark.fork
@pytest.mark.slow
def test_fee_one_unit_high_perp_twin_is_caught_and_the_bundle_replays_it(
    perp_fork_url, tmp_path, monkeypatch
):
    sc = cut_scenario(load_scenario(ALL), 160)
    honest = ExactWorld(sc).run().blocks
    block, trade = next(
        (r, a)
        for r in honest
        if r.block >= BREAK_AT
        for a in r.actions
        if a["kind"] == "perp_trade" and a["status"]
    )
    broken = {"on": False}
    fee, begin = PerpMarket._fee, ExactWorld.begin_block

    def fee_plus_one(self, size, fill):
        return fee(self, size, fill) + int(broken["on"])

    def begin_and_arm(self, b, time):
        begin(self, b, time)
        broken["on"] = b >= BREAK_AT

    monkeypatch.setattr(PerpMarket, "_fee", fee_plus_one)
    monkeypatch.setattr(ExactWorld, "begin_block", begin_and_arm)
    out_dir = tmp_path / "out"
    res = CliRunner().invoke(
        sim_group,
        [
            "run",
            "--backend",
            "chain",
            str(ALL),
            "--rpc",
            perp_fork_url,
            "--blocks",
            "160",
            "--out",
            str(out_dir),
        ],
    )
    assert res.exit_code == 1, res.output
    assert f"parity lost at block {block.block}" in res.output

    (bundle,) = (out_dir / "bundles").iterdir()
    data = json.loads((bundle / "bundle.json").read_text())
    div = Divergence(**data["divergence"])
    # The twin took one more unit of fee out of the margin than the contract did: the
    # market's total margin is the first field to differ (receipts all succeeded).
    assert div.block == block.block
    assert div.field == f"perp.{trade['perp']}.totalMargin"
    assert div.expected == div.chain - 1

    monkeypatch.undo()  # the replay needs no simulator: the bundle holds txs and reads
    assert replay_bundle(bundle) == div


@pytest.mark.chain
@pytest.mark.fork
@pytest.mark.slow
def test_default_network_is_a_fork_of_the_local_upstream(tmp_path):
    was_running = chainmod.running_record() is not None
    with fork_of_upstream() as url:
        upstream = chainmod.upstream_url()
        with chainmod.rpc_client(url) as rpc:
            info = rpc.call("anvil_nodeInfo")
        assert info["forkConfig"]["forkUrl"] == upstream
        assert chainmod.chain_id_of(url) == chainmod.chain_id_of(upstream) == 1
    if not was_running:  # started for the run, stopped after it
        assert chainmod.running_record() is None

    res = CliRunner().invoke(sim_group, ["run", "--backend", "chain", str(ROOT / "scenarios" / "parity.yaml"), "--blocks", "20", "--out",
                    str(tmp_path)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["chain"]["network"].startswith(DEFAULT_NETWORK)
    assert summary["chain"]["parity"] == "ok" and summary["chain"]["blocks"] == 20


@pytest.mark.chain
@pytest.mark.fork
@pytest.mark.slow
def test_network_option_runs_through_apes_provider(ammlab, tmp_path):
    res = ammlab(
        "sim", "run", "--backend", "chain", str(ROOT / "scenarios" / "chain_all.yaml"),
        "--blocks", "8", "--network", "ethereum:mainnet-fork:foundry", "--out", str(tmp_path),
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "parity: ok" in res.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["chain"]["network"] == "ethereum:mainnet-fork:foundry"
    res = ammlab(
        "sim", "run", "--backend", "chain", str(ALL), "--network", "nope:x:y",
        "--out", str(tmp_path / "nope"),
    )  # fmt: skip
    assert res.returncode == 1 and "nope" in res.stderr


def _with(sc_path: Path, **changes) -> dict:
    data = load_scenario(sc_path).model_dump(mode="json")
    for dotted, value in changes.items():
        *head, last = dotted.split(".")
        node = data
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[last] = value
    return data


def test_unsupported_perp_settings_are_refused_by_field():
    data = _with(ALL, **{"perps.0.taker_fee_bps": 2.5})
    with pytest.raises(ConfigError, match=r"perps\.perp\.taker_fee_bps: .*whole basis points"):
        check_supported(scenario_from_dict(data))
    data = _with(ALL, **{"perps.1.max_oracle_delay": 60.5})
    with pytest.raises(ConfigError, match=r"perps\.perp_ref\.max_oracle_delay: .*whole seconds"):
        check_supported(scenario_from_dict(data))
    check_supported(load_scenario(ALL))  # and the scenario itself is fine


def test_a_kind_without_a_chain_part_is_refused_with_the_supported_list(monkeypatch):
    import dataclasses

    import sim.engine.exact as ew
    from sim.venues.base import ExactPart

    # A registry whose perp venue has no exact part yet (as a new venue kind would start).
    bare = [
        dataclasses.replace(v, exact=lambda: ExactPart) if v.name == "perp" else v
        for v in ew.VENUES
    ]
    monkeypatch.setattr(ew, "VENUES", tuple(bare))
    with pytest.raises(ConfigError) as err:
        check_supported(load_scenario(ALL))
    msg = str(err.value)
    assert msg.startswith("agents.momentum: kind 'perp_trader' has no chain counterpart yet")
    supported = msg.split("(supported: ")[1]
    assert supported.startswith("arbitrageur, cross_arbitrageur")
    assert "perp_trader" not in supported and "liquidator" not in supported
    data = _with(ALL)
    data["agents"] = [a for a in data["agents"] if a["kind"] == "arbitrageur"]
    with pytest.raises(ConfigError, match=r"^perps: not on chain yet"):
        check_supported(scenario_from_dict(data))
