"""A learned policy on the fork: a model trained for the fork's own book (`ammlab learn train
--book-from RPC`) is the keeper's policy and hedges there, doing exactly what `Learned.decide`
says on the inputs and the feed-history features it logged; a model for another book, or a
book that moved past the tolerance, is refused in one line."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ape import chain, project
from ape_suite import role_account
from click.testing import CliRunner

from keeper.config import KeeperConfigError, load_keeper_config
from keeper.logs import KeeperLog
from keeper.networks import ape_network
from keeper.runtime import Keeper
from sim.decisions.hedging import HedgeInputs
from sim.learn.features import features_along
from sim.learn.model import BandModel
from sim.learn.policy import Learned

pytestmark = [pytest.mark.chain, pytest.mark.fork, pytest.mark.slow]

FORK = "ethereum:mainnet-fork:foundry"
TINY = "scenarios/learn/tiny.yaml"
E18 = 10**18
PRICES = (3000, 3012, 2990, 3024, 3005, 2981, 3010)
"""The feed's answers before training, one every ~15 minutes (the tiny model's grid)."""


@pytest.fixture(scope="module")
def learn_fork(upstream):
    _, manifest = upstream
    with ape_network(FORK) as provider:
        yield provider, manifest


@pytest.fixture(autouse=True)
def one_torch_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _keeper(tmp_path, model, manifest, url, log):
    cfg = load_keeper_config(
        dry_run=False,
        policy={"kind": "learned", "model": str(model)},
        venues={"perp": {"max_position_base": 5.0, "margin_quote": 100_000}},
        journal_path=tmp_path / "journal.sqlite",
        safety={"guards": {"max_slippage_bps": 120, "oracle_max_deviation_bps": 400}},
    )
    return Keeper(cfg, manifest, rpc_url=url, log=log)


def _trade(manifest, strike_id: int, amount: float) -> None:
    """The trader buys `amount` calls of `strike_id` from the options pool."""
    trader, deployer = role_account("trader"), role_account("deployer")
    usdc = project.ERC20.at(manifest["tokens"]["USDC"]["address"])
    usdc.mint(trader, 1_000_000 * 10**6, sender=deployer)
    usdc.approve(manifest["options"]["address"], 2**256 - 1, sender=trader)
    options = project.OptionsPool.at(manifest["options"]["address"])
    options.openPosition(strike_id, True, True, int(amount * E18), 10**15,
                         chain.blocks.head.timestamp + 600, sender=trader)  # fmt: skip


def _feed_history(manifest) -> None:
    feed = project.PriceFeed.at(manifest["feed"]["address"])
    for price in PRICES:
        chain.pending_timestamp = chain.blocks.head.timestamp + 900
        feed.transmit(int(price * 1e8), sender=role_account("transmitter"))


def _grid_features(manifest, m: BandModel, block: int, now: int) -> dict:
    """The features from the feed's rounds read through Ape, on the model's grid."""
    feed = project.PriceFeed.at(manifest["feed"]["address"])
    rounds = [feed.getRoundData(i, block_id=block)
              for i in range(1, feed.latestRound(block_id=block) + 1)]  # fmt: skip
    times = np.array([r[3] for r in rounds], dtype=float)
    prices = np.array([r[1] / 1e8 for r in rounds])
    first = math.ceil((times[0] - m.time_origin) / m.dt)
    last = math.floor((now - m.time_origin) / m.dt)
    grid = m.time_origin + np.arange(first, last + 1) * m.dt
    sampled = prices[[np.flatnonzero(times <= g)[-1] for g in grid]]
    assert len(sampled) >= 4  # a real history
    return {k: float(v[0, -1]) for k, v in features_along(m, sampled[None, :]).items()}


def test_keeper_runs_a_trained_policy_on_the_fork(learn_fork, tmp_path):
    """Train for the fork's book through the CLI, then the keeper hedges with it: its order is
    `Learned.decide`'s on the logged inputs and features, the features are those of the feed's
    rounds on the model's grid, and the hedge is mined."""
    from keeper.cli import cli

    provider, manifest = learn_fork
    _feed_history(manifest)
    _trade(manifest, 3, 12.0)  # the pool goes short ~6 delta
    model = tmp_path / "fork.json"
    r = CliRunner().invoke(cli, ["learn", "train", TINY, "--seed", "3", "--out", str(model),
                                 "--quiet", "--book-from", provider.uri])  # fmt: skip
    assert r.exit_code == 0, r.output
    m = BandModel.load(model)
    head = chain.blocks.head
    assert m.time_origin == head.timestamp and f"block {head.number}," in m.book.source
    assert [(leg.type, leg.size) for leg in m.book.legs] == [("call", -12.0)]
    assert m.book.legs[0].expiry > head.timestamp + 13 * 86400  # the board's absolute expiry
    assert m.book.lp_base > 0  # the keeper's LP share of venue_a is part of its book

    chain.pending_timestamp = head.timestamp + 60
    chain.mine()
    log = KeeperLog(stream=None)
    with _keeper(tmp_path, model, manifest, provider.uri, log) as keeper:
        result = keeper.tick()
        tick = [r for r in log.records if r["event"] == "tick"][-1]
        features = tick["features"]
        assert features == pytest.approx(
            _grid_features(manifest, m, tick["block"], result.snapshot.timestamp), rel=1e-9
        )
        assert features["realised_vol"] != pytest.approx(m.iv)
        expected = Learned(model=model).decide(HedgeInputs.single(**tick["inputs"]), features)
        want = expected.target_hedge[0] - tick["inputs"]["hedge"] if expected.trade[0] else 0.0
        assert want != 0.0  # it decides to hedge there
        assert tick["order"] == pytest.approx(want, rel=1e-9, abs=1e-12)
        assert all(leg.status == "mined" for leg in result.legs), result.legs
        mined = [i for i in keeper.journal.intents(("mined",)) if i.kind == "hedge"]
        assert sum(i.meta["size"] for i in mined) == pytest.approx(want, rel=1e-6)

        # The book moves past the tolerance (12 → 18 calls): the next tick refuses the model.
        _trade(manifest, 3, 6.0)
        with pytest.raises(KeeperConfigError, match="live size -18, trained for -12") as err:
            keeper.tick()
        assert "\n" not in str(err.value) and keeper.metrics.errors == 1


def test_a_model_for_another_book_is_refused_before_any_transaction(learn_fork, tmp_path):
    from sim.learn.config import load_config
    from sim.learn.train import train

    provider, manifest = learn_fork
    _trade(manifest, 3, 12.0)
    model = train(load_config(TINY), seed=3).save(tmp_path / "sim_clock.json")
    keeper_addr = manifest["keeper"]["address"]
    nonce = provider.web3.eth.get_transaction_count(keeper_addr)
    with (
        _keeper(tmp_path, model, manifest, provider.uri, KeeperLog(stream=None)) as keeper,
        pytest.raises(KeeperConfigError) as err,
    ):
        keeper.tick()
    msg = str(err.value)
    assert "\n" not in msg and "trained for another book" in msg
    assert "every leg it was trained for expired by now" in msg and "--book-from" in msg
    assert provider.web3.eth.get_transaction_count(keeper_addr) == nonce


def test_book_from_the_manifest_reads_the_upstream_at_a_block(learn_fork, tmp_path):
    """`--book-from MANIFEST --block N` reads the chain the manifest's upstream serves at
    block N and states the book and its as-of; at the deployment's block the pool has listed
    its boards but sold nothing: one line says there is nothing live to train for."""
    from keeper.cli import cli
    from sim.chain import node as chainmod

    _, manifest = learn_fork
    block = manifest["block"]
    r = CliRunner().invoke(cli, ["learn", "train", TINY, "--out", str(tmp_path / "m.json"),
                                 "--book-from", str(chainmod.manifest_path()),
                                 "--block", str(block)])  # fmt: skip
    assert r.exit_code != 0 and "Traceback" not in r.output
    book_line, error = r.output.splitlines()
    assert book_line.startswith("book: 0 legs") and f"from chain 1 block {block}," in book_line
    assert "no live option leg" in error
