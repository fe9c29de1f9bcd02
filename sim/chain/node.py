"""The local upstream chain: an anvil with chain id 1 on loopback, the stand-in for mainnet.

`ammlab chain up` starts it detached (it outlives the command), records its pid, port and log
under the ammlab home directory, and the project's contracts are deployed on it (see
`sim.chain.suite`). Forks (`ethereum:mainnet-fork:foundry`) then read it as their upstream through
`AMMLAB_UPSTREAM_RPC`, exactly as they would read a real mainnet RPC.

It also starts the chains a run drives (`chain_for_run`): a private plain anvil, a fork of the
upstream, or a running RPC; an Ape network only through the resolver the caller passes (this
package never imports ape). It talks JSON-RPC through `sim.chain.rpc`, without retries, so
status and shutdown answer at once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from sim.atomic import atomic_write_json
from sim.errors import ChainError, ManifestError

if TYPE_CHECKING:
    from sim.chain.rpc import Rpc

UPSTREAM_ENV = "AMMLAB_UPSTREAM_RPC"
HOME_ENV = "AMMLAB_HOME"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8645
MAINNET_CHAIN_ID = 1
MANIFEST_FORMAT = "ammlab-manifest/1"
PRESET_FORMAT = "ammlab-mainnet-preset/1"
"""The manifest `ammlab chain up --preset mainnet` writes (`sim.chain.mainnet`)."""
STATE_FORMAT = "ammlab-chain-state/1"

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Roles: accounts 0-3 of the test mnemonic anvil and Ape share ("test … junk",
# m/44'/60'/0'/0/i), the roles of every suite this package deploys (the local upstream's, the mainnet
# preset's), so a keeper config names the same accounts on either.
ROLE_INDEX = {"deployer": 0, "transmitter": 1, "trader": 2, "keeper": 3}
ROLE_ADDRESSES = {
    "deployer": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "transmitter": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "trader": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "keeper": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
}


def project_root() -> Path:
    """The checkout holding ape-config.yaml and contracts/ (Ape compiles from there)."""
    if not (PROJECT_ROOT / "ape-config.yaml").is_file():
        raise ChainError(
            f"no ape-config.yaml in {PROJECT_ROOT}: ammlab's chain commands run from a checkout "
            "of the repository (pip install -e .)"
        )
    return PROJECT_ROOT


def home_dir() -> Path:
    """Where the upstream's pid file, log, manifest and state live (AMMLAB_HOME overrides)."""
    return Path(os.environ.get(HOME_ENV) or PROJECT_ROOT / ".ammlab")


def default_upstream_url() -> str:
    return f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"


def upstream_url() -> str:
    """The upstream RPC forks read: AMMLAB_UPSTREAM_RPC, else the upstream `chain up`
    started (whatever its port), else the local default."""
    if url := os.environ.get(UPSTREAM_ENV):
        return url
    record = running_record()
    return record.url if record else default_upstream_url()


def export_upstream_url(url: str | None = None) -> str:
    """Put the upstream URL in the environment; ape-config.yaml expands it when Ape loads.

    Must run before the first `import ape` of the process.
    """
    url = url or upstream_url()
    os.environ[UPSTREAM_ENV] = url
    return url


def is_local_url(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host in {"127.0.0.1", "localhost", "::1"}


# --------------------------------------------------------------------------- JSON-RPC


def rpc_client(url: str, timeout: float = 10.0) -> Rpc:
    """A one-shot `sim.chain.rpc.Rpc` (no retries: status and shutdown answer at once).

    Imported here, not at the top: web3.py takes ~0.45 s to import, which commands that never
    reach a node (`ammlab chain down`, a fast-backend run) need not pay."""
    from sim.chain.rpc import Rpc

    return Rpc(url, timeout=timeout, hint="start it or fix the URL")


def chain_id_of(url: str, timeout: float = 5.0) -> int:
    with rpc_client(url, timeout) as rpc:
        return rpc.chain_id()


def block_number_of(url: str) -> int:
    with rpc_client(url) as rpc:
        return rpc.block_number()


def check_upstream_reachable(url: str | None = None) -> int:
    """Fail with one actionable line unless the upstream answers; returns its chain id."""
    url = url or upstream_url()
    try:
        return chain_id_of(url)
    except ChainError as err:
        hint = (
            "start it with `ammlab chain up`"
            if is_local_url(url)
            else f"check {UPSTREAM_ENV} (it points at a remote RPC)"
        )
        raise ChainError(f"upstream RPC {url} is unreachable: {hint}") from err


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def find_anvil() -> str:
    path = shutil.which("anvil")
    if path is None:
        raise ChainError(
            "anvil not found on PATH: run `make setup` (installs anvil 1.7.1 with npm into "
            "node_modules/.bin) and run ammlab through make, or add node_modules/.bin to PATH"
        )
    return path


# --------------------------------------------------------------------------- the upstream


@dataclass(frozen=True)
class UpstreamRecord:
    """What `chain up` wrote down about the process it started."""

    pid: int
    port: int
    url: str
    log: str
    started_at: float


def _pid_file(home: Path) -> Path:
    return home / "upstream.json"


def manifest_path(home: Path | None = None) -> Path:
    return (home or home_dir()) / "manifest.json"


def read_record(home: Path | None = None) -> UpstreamRecord | None:
    path = _pid_file(home or home_dir())
    if not path.is_file():
        return None
    try:
        return UpstreamRecord(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        path.unlink()  # a record we cannot parse describes no process we can manage
        return None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); /proc tells the truth on Linux.
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return True


def running_record(home: Path | None = None) -> UpstreamRecord | None:
    """The record of a live upstream started by ammlab, else None (stale records removed)."""
    home = home or home_dir()
    record = read_record(home)
    if record is None:
        return None
    if not process_alive(record.pid):
        _pid_file(home).unlink(missing_ok=True)
        return None
    return record


def start_upstream(
    port: int = DEFAULT_PORT,
    home: Path | None = None,
    chain_id: int = MAINNET_CHAIN_ID,
    timeout: float = 20.0,
    extra_args: tuple[str, ...] = (),
) -> UpstreamRecord:
    """Start a detached anvil on 127.0.0.1:`port` with `chain_id` (plus `extra_args`);
    wait until it answers.

    Raises ChainError, leaving nothing running, when anvil is missing, the port is taken or
    anvil does not come up.
    """
    home = home or home_dir()
    if (existing := running_record(home)) is not None:
        raise ChainError(
            f"an upstream started by ammlab already runs at {existing.url} (pid {existing.pid}):"
            " use it, or stop it with `ammlab chain down`"
        )
    anvil = find_anvil()
    if port_in_use(DEFAULT_HOST, port):
        raise ChainError(
            f"port {port} on {DEFAULT_HOST} is in use by another process: stop it or pass --port"
        )
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "upstream.log"
    url = f"http://{DEFAULT_HOST}:{port}"
    cmd = [anvil, "--host", DEFAULT_HOST, "--port", str(port), "--chain-id", str(chain_id),
           *extra_args]  # fmt: skip
    with open(log_path, "wb") as log:
        # A new session: the upstream survives the CLI process and Ctrl-C in its terminal.
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ChainError(f"anvil exited at start (code {proc.returncode}): {tail[0]}")
        try:
            if chain_id_of(url, timeout=1.0) == chain_id:
                break
        except ChainError:
            pass
        if time.monotonic() > deadline:
            _terminate(proc.pid)
            raise ChainError(
                f"anvil did not answer on {url} within {timeout:.0f} s; see {log_path}"
            )
        time.sleep(0.1)
    record = UpstreamRecord(proc.pid, port, url, str(log_path), time.time())
    atomic_write_json(_pid_file(home), record.__dict__)
    return record


def _terminate(pid: int, grace: float = 5.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:  # reap it if it is our child, so it does not linger as a zombie
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                return
        except ChildProcessError:
            pass
        if not process_alive(pid):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def stop_upstream(home: Path | None = None) -> UpstreamRecord | None:
    """Stop the upstream started by `chain up`; returns its record, or None if none ran."""
    home = home or home_dir()
    record = running_record(home)
    if record is not None:
        _terminate(record.pid)
    _pid_file(home).unlink(missing_ok=True)
    return record


# --------------------------------------------------------------------------- state dumps


def dump_state(path: Path, url: str, manifest: dict | None) -> dict:
    """Save the upstream's whole state (anvil_dumpState) and its manifest in one JSON file."""
    with rpc_client(url, timeout=60) as rpc:
        state = rpc.call("anvil_dumpState")
        chain_id, block = rpc.chain_id(), rpc.block_number()
    bundle = {
        "format": STATE_FORMAT,
        "chain_id": chain_id,
        "block": block,
        "manifest": manifest,
        "state": state,
    }
    atomic_write_json(path, bundle)
    return bundle


def load_state(path: Path, url: str) -> dict:
    """Load a `dump_state` file into a running anvil; returns the bundle (with its manifest)."""
    try:
        bundle = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ChainError(f"cannot read state file {path}: {err}") from err
    if not isinstance(bundle, dict) or bundle.get("format") != STATE_FORMAT:
        raise ChainError(f"{path} is not an ammlab state dump (written by `ammlab chain dump`)")
    if (have := chain_id_of(url)) != bundle["chain_id"]:
        raise ChainError(
            f"{path} holds chain id {bundle['chain_id']} but {url} has chain id {have}"
        )
    with rpc_client(url, timeout=60) as rpc:
        rpc.call("anvil_loadState", [bundle["state"]])
    return bundle


# --------------------------------------------------------------------------- manifest


def write_manifest(manifest: dict, path: Path | None = None) -> Path:
    return atomic_write_json(path or manifest_path(), manifest)


def read_manifest(path: Path | None = None, expect_chain_id: int | None = None) -> dict:
    """Load a deployment manifest; check its format and, if given, its chain id."""
    path = path or manifest_path()
    if not path.is_file():
        raise ManifestError(f"no deployment manifest at {path}: run `ammlab chain up` first")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as err:
        raise ManifestError(
            f"manifest {path} is not valid JSON ({err}): redeploy with `ammlab chain up`"
        ) from err
    if not isinstance(manifest, dict) or manifest.get("format") not in (
        MANIFEST_FORMAT,
        PRESET_FORMAT,
    ):
        raise ManifestError(f"{path} is not an ammlab deployment manifest ({MANIFEST_FORMAT})")
    if expect_chain_id is not None and manifest.get("chain_id") != expect_chain_id:
        raise ManifestError(
            f"manifest {path} is for chain id {manifest.get('chain_id')} but the connected chain "
            f"has id {expect_chain_id}: redeploy with `ammlab chain up` or pass the right manifest"
        )
    return manifest


# --------------------------------------------------------------------------- chains for a run


@contextmanager
def private_anvil(url: str | None) -> Iterator[str]:
    """`url` as given, or a private plain anvil (no tracing) for the duration."""
    if url is not None:
        yield url
        return
    home = Path(tempfile.mkdtemp(prefix="ammlab-chain-"))
    # --prune-history: anvil's evm_mine otherwise slows with chain length (measured 1.9 to 9.8
    # ms per empty block over 3,000 blocks); parity only reads the latest state.
    record = start_upstream(port=free_port(), home=home, extra_args=("--prune-history",))
    try:
        yield record.url
    finally:
        stop_upstream(home)


DEFAULT_NETWORK = "ethereum:mainnet-fork:foundry"
"""What a chain run drives by default: a fork of the local upstream (mainnet's stand-in)."""


@contextmanager
def local_upstream() -> Iterator[str]:
    """The upstream RPC forks read (`upstream_url`); when nothing answers at a
    local URL, the upstream is started there (empty, as `ammlab chain up --no-deploy`) and
    stopped again afterwards."""
    url = upstream_url()
    try:
        chain_id_of(url, timeout=2.0)
    except ChainError:
        if not is_local_url(url):
            raise ChainError(
                f"upstream RPC {url} is unreachable: check {UPSTREAM_ENV} (it points at "
                "a remote RPC), or pass --rpc URL"
            ) from None
        port = urlparse(url).port or DEFAULT_PORT
        record = start_upstream(port=port)
        try:
            yield record.url
        finally:
            stop_upstream()
        return
    yield url


@contextmanager
def fork_of_upstream() -> Iterator[str]:
    """A fork of the local upstream, the chain `ethereum:mainnet-fork:foundry` names: a
    plain anvil (`--fork-url UPSTREAM`, chain id 1) on a free port for the duration.

    Plain rather than Ape's managed fork: Ape starts anvil with --steps-tracing, which makes
    each block 3-5x slower, and --prune-history keeps evm_mine from slowing with the length
    of the run; parity reads only the latest state."""
    with local_upstream() as upstream:
        home = Path(tempfile.mkdtemp(prefix="ammlab-fork-"))
        record = start_upstream(
            port=free_port(),
            home=home,
            extra_args=("--fork-url", upstream, "--prune-history"),
        )
        try:
            yield record.url
        finally:
            stop_upstream(home)


NetworkResolver = Callable[[str], AbstractContextManager[str]]
"""`resolver(choice) -> context manager yielding the RPC URL` of a named network (the CLI
passes Ape's, `keeper.networks.ape_rpc`)."""


@contextmanager
def chain_for_run(
    network: str | None, rpc: str | None, resolver: NetworkResolver | None = None
) -> Iterator[str]:
    """The RPC a chain run drives: `rpc` as given; else `resolver(network)` (an Ape network,
    connected for the duration; a mainnet fork reads the local upstream, started if needed);
    else the default, `fork_of_upstream()`."""
    if rpc is not None:
        yield rpc
        return
    if network is None:
        with fork_of_upstream() as url:
            yield url
        return
    if resolver is None:
        raise ChainError(f"--network {network}: no network resolver here; pass --rpc URL")
    upstream = local_upstream() if network.startswith("ethereum:mainnet") else nullcontext()
    with upstream, resolver(network) as uri:
        yield uri
