"""A learned policy on a chain: its book checked, its features from the feed, and a chain's
book read for training.

A `sim.learn.policy.Learned` model is trained for one book (`sim.learn.book`). `LearnedInputs.check`
compares it with the book the keeper holds (the options pool's positions, its LP share) when
the keeper starts and at every tick, and refuses in one line when they differ.
`LearnedInputs.features` builds the policy's extra state with the one feature code,
`sim.learn.features.LearnedFeatures`, from the price history the keeper's spot comes from: the
feed's rounds. On the first tick it reads back (`getRoundData`, batched) the rounds that cover
the model's lookback; then each tick the rounds since the last one, so no round between two
ticks is missed.

`read_chain_book` reads a chain's book at a block for `ammlab learn train --book-from`
(registered with `sim.learn.book` by the CLI).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from keeper.config import KeeperConfigError, load_keeper_config, resolve_addresses
from keeper.reader import Call, ChainReader, MarketSnapshot
from sim.chain import node as chainmod
from sim.errors import ManifestError
from sim.learn.book import BookSnapshot, book_mismatch
from sim.learn.features import LearnedFeatures, VolForecast
from sim.learn.model import load_cached
from sim.learn.policy import Learned

ROUND_CHUNK = 32
"""Rounds read per batched request when reading back."""
MAX_ROUNDS = 1024
"""Most rounds read back at once (a feed that updates every block over a long lookback)."""
ROUND_TYPES = ("uint80", "int256", "uint256", "uint256", "uint80")


def lp_base(snap: MarketSnapshot, include_lp: bool) -> float:
    """Base the LP account holds through its pool shares (the keeper's book's LP part)."""
    return sum(p.base * p.lp_share for p in snap.pools) if include_lp else 0.0


def read_chain_book(source: str, block: int | None = None) -> BookSnapshot:
    """The book a keeper with the default config (plus `KEEPER_` overrides) holds at `block`
    (default: the latest): the options pool's positions and the LP share.

    `source` is a deployment manifest (the chain at `AMMLAB_UPSTREAM_RPC` or the default
    upstream) or an RPC URL (the contracts of the manifest `ammlab chain up` wrote).
    """
    path = Path(source)
    if path.is_file():
        manifest = chainmod.read_manifest(path)
        url = chainmod.upstream_url()
    else:
        url = source
        manifest = chainmod.read_manifest()
    chain_id = chainmod.chain_id_of(url)
    if manifest.get("chain_id") != chain_id:
        raise ManifestError(
            f"the manifest is for chain id {manifest.get('chain_id')} but {url} is chain id "
            f"{chain_id}: pass the right manifest or RPC"
        )
    cfg = load_keeper_config()
    addresses, _ = resolve_addresses(cfg, manifest)
    if not addresses.options_pool:
        raise ManifestError(f"the manifest for chain {chain_id} has no options pool to read")
    snap = ChainReader(url, addresses).read(block)
    return BookSnapshot.from_positions(
        snap.option_positions(),
        as_of=snap.timestamp,
        spot=snap.spot,
        lp_base=lp_base(snap, cfg.inventory.include_lp),
        source=f"chain {chain_id} block {snap.block}, options pool {addresses.options_pool}",
    )


class LearnedInputs:
    """The book check and the features of one keeper's learned policy (module docstring)."""

    def __init__(self, policy: Learned, reader: ChainReader, include_lp: bool = True):
        self.policy = policy
        self.model = load_cached(policy.model)
        self.reader = reader
        self.include_lp = include_lp
        self.history = LearnedFeatures(policy, 1)
        self.last_round: int | None = None

    def check(self, snap: MarketSnapshot) -> None:
        """Raise KeeperConfigError, in one line, when the keeper's book is not the model's."""
        why = book_mismatch(
            self.model.book, snap.option_positions(), snap.timestamp,
            lp_base(snap, self.include_lp), snap.spot, self.policy.book_tolerance,
        )  # fmt: skip
        if why is not None:
            raise KeeperConfigError(
                f"policy learned: {self.policy.model} was trained for another book ({why}); "
                f"train one for this book with `ammlab learn train CONFIG --book-from "
                f"{self.reader.url}`"
            )

    def features(self, snap: MarketSnapshot) -> dict[str, Any]:
        """The policy's extra features at this tick, as plain floats (lists for vectors)."""
        if self.last_round is not None and snap.oracle_round_id < self.last_round:
            # The feed's rounds went back (another chain, a reset fork): start over.
            self.history = LearnedFeatures(self.policy, 1)
            self.last_round = None
        for t, price in self._new_rounds(snap):
            self.history.observe(t, price)
        self.history.observe(snap.timestamp, snap.spot)
        return {k: v[0].tolist() for k, v in self.history.features().items()}

    def _new_rounds(self, snap: MarketSnapshot) -> list[tuple[float, float]]:
        """(updatedAt, price) of the rounds not seen yet, oldest first, the latest included."""
        rid = snap.oracle_round_id
        if self.last_round is None:
            m = self.model
            j_now = math.floor((snap.timestamp - m.time_origin) / m.dt)
            since = m.time_origin + (j_now - self.history.length + 1) * m.dt
            rounds = self._rounds_back(rid - 1, since, snap)
        else:
            first = max(self.last_round + 1, rid - MAX_ROUNDS)
            rounds = [r for r in self._read(list(range(first, rid)), snap) if r is not None]
        self.last_round = rid
        return [*rounds, (float(snap.oracle_updated_at), snap.spot)]

    def _rounds_back(
        self, rid: int, since: float, snap: MarketSnapshot
    ) -> list[tuple[float, float]]:
        """Rounds from `rid` down to the first updated at or before `since` (or the first
        round the feed still has), oldest first."""
        out: list[tuple[float, float]] = []
        while rid > 0 and len(out) < MAX_ROUNDS:
            ids = list(range(rid, max(rid - ROUND_CHUNK, 0), -1))
            for r in self._read(ids, snap):
                if r is None:
                    return out[::-1]
                out.append(r)
                if r[0] <= since:
                    return out[::-1]
            rid -= ROUND_CHUNK
        return out[::-1]

    def _read(self, ids: list[int], snap: MarketSnapshot) -> list[tuple[float, float] | None]:
        """(updatedAt, price) of rounds `ids` at the snapshot's block; None for a round the
        feed does not have (a revert, or never updated)."""
        feed = self.reader.addresses.feed
        calls = [
            Call("round", feed, "getRoundData(uint80)", ROUND_TYPES, ("uint80",), (i,)) for i in ids
        ]
        self.reader.rounds += 1
        raw = self.reader.batch.many_or_none([c.rpc(hex(snap.block)) for c in calls])
        out: list[tuple[float, float] | None] = []
        scale = 10**snap.oracle_decimals
        for c, r in zip(calls, raw, strict=True):
            if r is None or r == "0x":
                out.append(None)
                continue
            _, answer, _, updated_at, _ = c.decode(r)
            out.append((float(updated_at), answer / scale) if updated_at else None)
        return out


class ForecastInputs:
    """The band scale of a delta-band or Whalley–Wilmott policy with a `forecast`
    (`sim.decisions.hedging.ForecastBand`): σ̂ from the feed's price as the keeper sees it each
    tick (`sim.learn.features.VolForecast`, the simulator's keeper agent's code), as the
    feature `band_scale` that `keeper.strategy.plan_hedge` puts into the policy's inputs."""

    def __init__(self, forecast, origin: float = 0.0):
        self.forecast = forecast
        self.vol = VolForecast(forecast, 1, origin)

    def check(self, snap: MarketSnapshot) -> None:
        """Nothing to check: a band policy is not trained for a book."""

    def features(self, snap: MarketSnapshot) -> dict[str, Any]:
        self.vol.observe(float(snap.timestamp), snap.spot)
        return {"band_scale": float(self.vol.band_scale(self.forecast)[0])}
