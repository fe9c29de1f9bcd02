"""Every example scenario runs on both backends: through the contracts with exact parity at
every block, and the exact world's metrics equal the fast engine's to rounding.

Each is cut to its first blocks (one world) to keep CI short; the long runs are in the README.
"""

from pathlib import Path

import numpy as np
import pytest

from sim.chain.backend import run_on_chain
from sim.chain.node import private_anvil as anvil
from sim.engine.core import Engine
from sim.run import cut_for_chain as cut_scenario
from sim.scenario import load_scenario

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))
BLOCKS = 120


@pytest.fixture(scope="module")
def examples_anvil():
    with anvil(None) as url:
        yield url


def test_the_examples_are_all_here():
    assert {"reference.yaml", "full.yaml", "options.yaml", "cascade.yaml", "univ3.yaml"} <= set(
        EXAMPLES
    )


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_on_chain_with_parity_and_matches_the_fast_engine(
    examples_anvil, tmp_path, name
):
    sc = cut_scenario(load_scenario(ROOT / "scenarios" / name), BLOCKS)
    run = run_on_chain(sc, examples_anvil, bundle_dir=tmp_path)
    assert run.report.divergence is None, run.report.divergence.describe()
    assert run.report.blocks == sc.metrics.warmup_blocks + BLOCKS
    fast = Engine(sc, fused=False).run().worlds
    assert set(fast) == set(run.result.worlds)
    for k, v in fast.items():
        np.testing.assert_allclose(run.result.worlds[k], v, rtol=1e-6, atol=1e-6, err_msg=k)
