"""Pure parts of the history puller and reader: missing ranges, part names, config refusals."""

import pytest

from sim.chain.history import missing
from sim.errors import ConfigError
from sim.history.schema import EVENTS, chunk_file, parse_chunk_file
from sim.history.store import HistoryError, open_history
from sim.scenario import scenario_from_dict


@pytest.mark.parametrize(
    "chunks, expect",
    [
        ([], [(0, 99)]),
        ([(0, 99)], []),
        ([(10, 19), (30, 39)], [(0, 9), (20, 29), (40, 99)]),
        ([(0, 49), (50, 200)], []),
        ([(-5, 3), (97, 120)], [(4, 96)]),
    ],
    ids=["nothing", "all", "holes", "beyond", "overlapping-ends"],
)
def test_missing_ranges(chunks, expect):
    assert missing(0, 99, chunks) == expect


def test_part_names_round_trip_and_topics_are_the_known_ones():
    assert parse_chunk_file(chunk_file("v2_sync", 7, 1234).split("/")[1]) == (7, 1234)
    assert parse_chunk_file(".000-001.parquet.tmp") is None
    topics = {e.signature: e.topic0 for e in EVENTS}
    # Uniswap V2 Sync, V3 Swap and Chainlink AnswerUpdated as every explorer shows them
    assert topics["Sync(uint112,uint112)"].startswith("0x1c411e9a96e07124")
    assert topics["Swap(address,address,int256,int256,uint160,uint128,int24)"].startswith(
        "0xc42079f94a6350d7"
    )
    assert topics["AnswerUpdated(int256,uint256,uint256)"].startswith("0x0559884fd3a460db")


@pytest.mark.parametrize(
    "price",
    [{"kind": "replay"}, {"kind": "replay", "path": "a.csv", "source": "d"}],
    ids=["neither", "both"],
)
def test_price_replay_takes_a_csv_or_a_pulled_folder(price):
    with pytest.raises(ConfigError, match="exactly one of 'path'"):
        scenario_from_dict({"price": price})


def test_a_folder_without_a_pull_is_refused_in_one_line(tmp_path):
    with pytest.raises(HistoryError) as err:
        open_history(tmp_path)
    assert "ammlab data pull" in str(err.value) and "\n" not in str(err.value)
