"""Hedging policies: each decision rule, batch against one-world calls, the WW band formula."""

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from sim.decisions.hedging import (
    DeltaBand,
    FixedInterval,
    HedgeInputs,
    NoHedge,
    WhalleyWilmott,
    whalley_wilmott_band,
)
from sim.decisions.policies import PolicyConfig


def inputs(**overrides):
    base = dict(
        now=1000.0, spot=3000.0, book_delta=-10.0, book_gamma=-0.05, hedge=8.0,
        last_hedge_time=900.0, cost_rate=0.003,
    )  # fmt: skip
    return HedgeInputs.single(**{**base, **overrides})


@pytest.mark.parametrize(
    "since_last, trades",
    [(3599.0, False), (3600.0, True), (7200.0, True)],
    ids=["early", "due", "late"],
)
def test_fixed_interval_hedges_to_zero_when_due(since_last, trades):
    d = FixedInterval(interval=3600).decide(
        inputs(now=10_000.0, last_hedge_time=10_000.0 - since_last)
    )
    assert d.trade[0] == trades
    assert d.target_hedge[0] == (10.0 if trades else 8.0)


@pytest.mark.parametrize(
    "hedge, since_last, trades",
    [
        (9.5, 10_000.0, False),  # |net| = 0.5 inside the band
        (7.0, 10_000.0, True),  # |net| = 3 outside, rested
        (7.0, 10.0, False),  # outside, too soon after the last hedge
        (2.0, 10.0, True),  # |net| = 8 beyond the override: hedge at once
    ],
    ids=["inside", "outside-rested", "outside-too-soon", "override"],
)
def test_delta_band_rule(hedge, since_last, trades):
    policy = DeltaBand(band=1.0, min_delay=300, override=5.0)
    d = policy.decide(inputs(hedge=hedge, now=20_000.0, last_hedge_time=20_000.0 - since_last))
    assert d.trade[0] == trades
    assert d.target_hedge[0] == (10.0 if trades else hedge)


def test_whalley_wilmott_band_formula():
    # H = (3/2 k S Γ² / γ)^(1/3): k = 0.003, S = 3000, Γ = 0.05, γ = 1e-3 -> (1.5*0.003*3000*0.0025/1e-3)^(1/3)
    expected = (1.5 * 0.003 * 3000 * 0.05**2 / 1e-3) ** (1 / 3)
    assert whalley_wilmott_band(
        np.array(3000.0), np.array(-0.05), np.array(0.003), 1e-3
    ) == pytest.approx(expected, rel=1e-15)
    # the band widens with cost and narrows with risk aversion
    assert whalley_wilmott_band(3000.0, 0.05, 0.006, 1e-3) > expected
    assert whalley_wilmott_band(3000.0, 0.05, 0.003, 2e-3) < expected


def test_whalley_wilmott_trades_only_to_the_band_edge():
    policy = WhalleyWilmott(risk_aversion=1e-3)
    x = inputs(hedge=0.0)  # net = -10, far outside
    half_width = policy.band(x)[0]
    d = policy.decide(x)
    assert d.trade[0]
    assert d.target_hedge[0] + x.book_delta[0] == pytest.approx(-half_width)
    inside = policy.decide(inputs(hedge=10.0 - 0.5 * half_width))
    assert not inside.trade[0]


def test_zero_cost_whalley_wilmott_is_full_delta_hedging():
    d = WhalleyWilmott().decide(inputs(cost_rate=0.0))
    assert d.trade[0] and d.target_hedge[0] == pytest.approx(10.0)


def test_batch_decisions_equal_one_world_decisions():
    rng = np.random.default_rng(3)
    w = 257
    batch = HedgeInputs(
        now=np.full(w, 5000.0),
        spot=rng.uniform(1000, 4000, w),
        book_delta=rng.normal(0, 20, w),
        book_gamma=rng.normal(0, 0.1, w),
        hedge=rng.normal(0, 20, w),
        last_hedge_time=rng.uniform(0, 5000, w),
        cost_rate=rng.uniform(0, 0.01, w),
    )
    for policy in (FixedInterval(interval=2000), DeltaBand(), WhalleyWilmott(), NoHedge()):
        d = policy.decide(batch)
        for i in range(0, w, 16):
            one = policy.decide(
                HedgeInputs(**{k: getattr(batch, k)[i : i + 1] for k in batch.__dataclass_fields__})
            )
            assert one.trade[0] == d.trade[i]
            assert one.target_hedge[0] == d.target_hedge[i]


def test_no_hedge_never_trades():
    d = NoHedge().decide(inputs(hedge=-100.0))
    assert not d.trade.any() and d.order[0] == 0.0


def test_policy_config_is_chosen_by_kind_and_rejects_unknown_fields():
    adapter = TypeAdapter(PolicyConfig)
    assert isinstance(adapter.validate_python({"kind": "delta_band", "band": 2}), DeltaBand)
    with pytest.raises(ValidationError, match="bandwidth"):
        adapter.validate_python({"kind": "delta_band", "bandwidth": 2})
    with pytest.raises(ValidationError, match="greater than 0"):
        adapter.validate_python({"kind": "fixed_interval", "interval": 0})


def test_inputs_from_a_book_for_one_world_and_many():
    from sim.decisions.book import OptionPositions, compute_book

    pos = OptionPositions(
        np.array([-10.0]),
        np.array([3000.0]),
        np.array([30 * 86400.0]),
        np.array([True]),
        np.array([0.8]),
    )
    one = HedgeInputs.from_book(compute_book(3000.0, 0.0, pos), 0.0, 2.0, -np.inf, 0.003)
    assert one.book_delta.shape == (1,) and one.hedge[0] == 2.0
    many = HedgeInputs.from_book(
        compute_book(np.array([2900.0, 3000.0]), 0.0, pos),
        0.0,
        np.array([1.0, 2.0]),
        -np.inf,
        0.003,
    )
    assert many.book_delta.shape == (2,)
    assert many.book_delta[1] == one.book_delta[0]
    assert DeltaBand().decide(many).trade.shape == (2,)
