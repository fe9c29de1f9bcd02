"""`ammlab chain ...`, `ammlab fork session` and `ammlab demo` as a user runs them."""

import json
import os
import socket
from pathlib import Path

import pytest

from sim.chain import node as chainmod

pytestmark = [pytest.mark.chain, pytest.mark.fork, pytest.mark.slow]


@pytest.fixture
def private_chain(tmp_path):
    """A fresh ammlab home and port, so each test owns its upstream; stopped afterwards."""
    port = chainmod.free_port()
    env = {
        chainmod.HOME_ENV: str(tmp_path / "home"),
        chainmod.UPSTREAM_ENV: f"http://127.0.0.1:{port}",
    }
    yield port, env
    chainmod.stop_upstream(tmp_path / "home")


def assert_one_line_error(result, *fragments):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_up_status_dump_down_reload_and_fork_session(ammlab, private_chain, tmp_path):
    port, env = private_chain
    up = ammlab("chain", "up", "--port", str(port), "--price", "2500", env=env)
    assert up.returncode == 0, up.stderr
    assert f"127.0.0.1:{port}" in up.stdout and "venue_a" in up.stdout

    status = ammlab("chain", "status", env=env)
    assert "chain id 1" in status.stdout and "manifest (suite)" in status.stdout
    assert "venue_a: 0x" in status.stdout

    state = tmp_path / "state.json"
    assert ammlab("chain", "dump", str(state), env=env).returncode == 0
    bundle = json.loads(state.read_text())
    assert bundle["chain_id"] == 1 and bundle["manifest"]["seed_price"] == "2500"

    down = ammlab("chain", "down", env=env)
    assert "stopped" in down.stdout
    assert "not started by ammlab" in ammlab("chain", "status", env=env).stdout

    reload = ammlab("chain", "up", "--port", str(port), "--load", str(state), env=env)
    assert reload.returncode == 0, reload.stderr
    assert f"block {bundle['block']}" in ammlab("chain", "status", env=env).stdout

    session = ammlab("fork", "session", "--swaps", "3", "--seed", "1", env=env)
    assert session.returncode == 0, session.stderr
    assert "3 swaps through the router, every amount out equal" in session.stdout
    assert f"upstream untouched: still at block {bundle['block']}" in session.stdout
    assert "2500.00" in session.stdout  # the seed price survived the dump and reload


V2_PAIR = "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"
V3_5BP = "0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640"


def test_up_with_the_mainnet_preset_status_dump_and_reload(ammlab, private_chain, tmp_path):
    """`chain up --preset mainnet` with its seeding options; status, dump and --load on its
    manifest; `fork session` (the suite's) refused in one line; bad options in one line,
    nothing left running."""
    port, env = private_chain
    bad = ammlab("chain", "up", "--preset", "mainnet", "--port", str(port), "--v3-range",
                 "100:5", env=env)  # fmt: skip
    assert_one_line_error(bad, "unknown fee tier 100")
    assert not chainmod.port_in_use("127.0.0.1", port)
    assert_one_line_error(ammlab("chain", "up", "--v2-depth", "5", env=env), "--preset mainnet")

    up = ammlab("chain", "up", "--preset", "mainnet", "--port", str(port), "--price", "2500",
                "--v2-depth", "400", "--v3-range", "500:50:0.1", "--v3-range", "3000:80",
                env=env)  # fmt: skip
    assert up.returncode == 0, up.stderr
    assert f"Uniswap V2 weth_usdc: {V2_PAIR}" in up.stdout
    assert f"Uniswap V3 weth_usdc_500: {V3_5BP} (5 bp)" in up.stdout
    manifest = json.loads(chainmod.manifest_path(Path(env[chainmod.HOME_ENV])).read_text())
    assert manifest["format"] == chainmod.PRESET_FORMAT and manifest["seed_price"] == "2500"
    pair = manifest["uniswap_v2"]["pairs"]["weth_usdc"]
    assert pair["reserve1"] == 402 * 10**18  # 400 WETH and the keeper's 2
    assert pair["reserve0"] * 10**12 / pair["reserve1"] == 2500
    pools = manifest["uniswap_v3"]["pools"]
    assert [len(p["positions"]) for p in pools.values()] == [1, 1]
    assert pools["weth_usdc_3000"]["positions"][0]["width"] is None

    status = ammlab("chain", "status", env=env)
    assert "manifest (mainnet preset)" in status.stdout and V3_5BP in status.stdout
    state = tmp_path / "state.json"
    assert ammlab("chain", "dump", str(state), env=env).returncode == 0
    assert ammlab("chain", "down", env=env).returncode == 0
    reload = ammlab("chain", "up", "--port", str(port), "--load", str(state), env=env)
    assert reload.returncode == 0 and V2_PAIR in reload.stdout, reload.stderr
    block = json.loads(state.read_text())["block"]
    assert f"block {block}" in ammlab("chain", "status", env=env).stdout
    assert_one_line_error(ammlab("fork", "session", env=env), "mainnet preset")


def test_demo_runs_the_whole_job_and_stops_the_chain(ammlab, private_chain, tmp_path):
    _, env = private_chain
    out = tmp_path / "demo"
    demo = ammlab(
        "demo", "--calls", "20", "--worlds", "16", "--hours", "1", "--chain-blocks", "60",
        "--out", str(out), env=env,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    # The keeper on a fork of the mainnet preset: it hedges on the genuine pools.
    assert "with the mainnet preset" in demo.stdout
    hedged = [line for line in demo.stdout.splitlines() if " mined " in line]
    assert any(" univ3 " in line or " univ2 " in line for line in hedged), demo.stdout
    assert "every pool leg's twin quote equals the protocol's own" in demo.stdout
    assert "local upstream stopped" in demo.stdout
    assert "parity: ok at every block" in demo.stdout
    assert chainmod.running_record(Path(env[chainmod.HOME_ENV])) is None
    summary = json.loads((out / "study" / "summary.json").read_text())
    assert summary["metrics"]["options.options.fees"]["n"] == 16
    assert (out / "chain" / "summary.json").is_file()
    assert "<svg" in (out / "report.html").read_text()
    assert f"report: {out / 'report.html'}" in demo.stdout


def test_missing_anvil_is_one_line_and_leaves_nothing(ammlab, private_chain):
    port, env = private_chain
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if "node_modules" not in p
    )
    result = ammlab("chain", "up", "--port", str(port), env={**env, "PATH": path})
    assert_one_line_error(result, "anvil not found", "make setup")
    assert not chainmod.port_in_use("127.0.0.1", port)


def test_port_in_use_is_one_line(ammlab, private_chain):
    port, env = private_chain
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        result = ammlab("chain", "up", "--port", str(port), env=env)
    assert_one_line_error(result, f"port {port}", "in use")


def test_unreachable_rpc_is_one_line(ammlab, private_chain):
    _, env = private_chain
    home = env[chainmod.HOME_ENV]
    os.makedirs(home)
    chainmod.write_manifest(
        {"format": chainmod.MANIFEST_FORMAT, "chain_id": 1}, chainmod.manifest_path(Path(home))
    )
    result = ammlab("fork", "session", env=env)
    assert_one_line_error(result, "unreachable", "ammlab chain up")


def test_remote_upstream_is_not_started_locally(ammlab, private_chain):
    _, env = private_chain
    result = ammlab("chain", "up", env={**env, chainmod.UPSTREAM_ENV: "https://rpc.example.org"})
    assert_one_line_error(result, "remote RPC")


def test_manifest_for_another_chain_is_one_line(ammlab, private_chain):
    port, env = private_chain
    assert ammlab("chain", "up", "--port", str(port), env=env).returncode == 0
    path = chainmod.manifest_path(Path(env[chainmod.HOME_ENV]))
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "chain_id": 10}))
    result = ammlab("fork", "session", "--swaps", "1", env=env)
    assert_one_line_error(result, "chain id 10", "connected chain has id 1")
