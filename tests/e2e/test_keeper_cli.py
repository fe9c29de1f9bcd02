"""`ammlab keeper run` refuses bad set-ups with one line, before any transaction."""

import json
from pathlib import Path

import pytest

from sim.chain import node as chainmod

pytestmark = [pytest.mark.chain, pytest.mark.fork, pytest.mark.slow]


@pytest.fixture(scope="module")
def keeper_chain(tmp_path_factory):
    """An upstream with the suite, private to this module; the keeper's nonce on it."""
    home = tmp_path_factory.mktemp("keeper-cli") / "home"
    port = chainmod.free_port()
    env = {chainmod.HOME_ENV: str(home), chainmod.UPSTREAM_ENV: f"http://127.0.0.1:{port}"}
    yield port, env, home
    chainmod.stop_upstream(home)


def keeper_nonce(env, home: Path) -> int:
    manifest = json.loads(chainmod.manifest_path(home).read_text())
    url = env[chainmod.UPSTREAM_ENV]
    with chainmod.rpc_client(url) as rpc:
        return rpc.nonce(manifest["keeper"]["address"])


def assert_one_line(result, *fragments):
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_bad_setups_are_refused_before_any_transaction(ammlab, keeper_chain, tmp_path):
    port, env, home = keeper_chain
    assert ammlab("chain", "up", "--port", str(port), env=env).returncode == 0
    nonce = keeper_nonce(env, home)

    malformed = tmp_path / "malformed.yaml"
    malformed.write_text("policy:\n  kind: delta_band\n  bandd: 2\n")
    assert_one_line(
        ammlab("keeper", "run", "--config", str(malformed), "--live", "--blocks", "1", env=env),
        "policy.delta_band.bandd", "Extra inputs",
    )  # fmt: skip

    wrong_chain = tmp_path / "wrong_chain.yaml"
    wrong_chain.write_text("chain_id: 5\n")
    assert_one_line(
        ammlab("keeper", "run", "--config", str(wrong_chain), "--live", "--blocks", "1", env=env),
        "chain_id: 5", "is chain id 1",
    )  # fmt: skip

    manifest_path = chainmod.manifest_path(home)
    manifest = json.loads(manifest_path.read_text())
    original = manifest_path.read_text()
    manifest["perp"]["address"] = "0x" + "ab" * 20
    manifest_path.write_text(json.dumps(manifest))
    try:
        assert_one_line(
            ammlab("keeper", "run", "--live", "--blocks", "1", env=env),
            "no contract code at", "(perp)",
        )  # fmt: skip
    finally:
        manifest_path.write_text(original)

    assert keeper_nonce(env, home) == nonce  # nothing was sent upstream
