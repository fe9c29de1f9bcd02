"""`make setup`'s two ways to torch: the CPU wheel in pip's find-links here, PyPI (or an index
named by TORCH_INDEX) elsewhere; and requirements.lock resolvable from plain PyPI.

pip's own resolver runs in dry-run mode with `--report`, so the versions asserted are the ones
`make setup` would install. `--use-feature=fast-deps` makes it read a wheel's metadata through
HTTP range requests: without it pip downloads each chosen wheel whole (torch's is 0.5 GB) when
the index does not serve the metadata file apart, as the PyPI reached from here does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PYPI = "https://pypi.org/simple"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH = Version("2.13.0")


def _unreachable(url: str) -> str | None:
    """Why `url` cannot be reached, or None when it answers."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10).close()
    except (urllib.error.URLError, OSError) as err:
        return f"{url} is unreachable ({err})"
    return None


def _skip_unless_reachable(url: str) -> None:
    reason = _unreachable(url)
    if reason is not None:
        pytest.skip(reason)


def _plain_env() -> dict[str, str]:
    """The environment without pip's settings: no find-links, extra indexes or constraints from
    PIP_* variables or any config file (PIP_CONFIG_FILE=/dev/null makes pip read none)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


# Plain PyPI and nothing else; --isolated also ignores PIP_* variables a caller might add.
PLAIN = ["--isolated", "--index-url", PYPI]


def _resolve(*args: str, env: dict[str, str] | None = None) -> dict[str, tuple[Version, str]]:
    """What `pip install ARGS` would install, without deps: {name: (version, file URL)}."""
    cmd = [
        *(sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps"),
        *("--quiet", "--use-feature=fast-deps", "--report", "-"),
        # Bounded: pip's configured timeout here is 180 s per try.
        *("--timeout", "20", "--retries", "1"),
        *args,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    # The last lines say why; the first can list hundreds of versions pip ignored.
    assert proc.returncode == 0, " ".join(cmd) + "\n" + "\n".join(proc.stderr.splitlines()[-2:])
    report = json.loads(proc.stdout)
    return {
        canonicalize_name(item["metadata"]["name"]): (
            Version(item["metadata"]["version"]),
            item["download_info"]["url"],
        )
        for item in report["install"]
    }


def _lock() -> dict[str, Requirement]:
    lines = LOCK.read_text().splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {canonicalize_name(r.name): r for r in reqs}


def test_lock_pins_public_versions_only():
    """PyPI refuses uploads with a local label (`+cpu`), so such a pin resolves only where
    another index or a file on disk serves it."""
    local = [str(r) for r in _lock().values() if any("+" in s.version for s in r.specifier)]
    assert local == []
    assert str(_lock()["torch"].specifier) == f"=={TORCH}"


@pytest.mark.slow  # about 25 s: one index page and one metadata read per line
def test_whole_lock_resolves_from_plain_pypi():
    _skip_unless_reachable(f"{PYPI}/pip/")
    picked = _resolve(*PLAIN, "-r", str(LOCK), env=_plain_env())
    assert {name: str(v) for name, (v, _) in picked.items()} == {
        name: str(next(iter(r.specifier)).version) for name, r in _lock().items()
    }
    version, url = picked["torch"]
    assert version == TORCH and url.startswith("https://files.pythonhosted.org/"), url


def test_default_config_takes_torch_2_13_0():
    """As `make setup` asks for it: torch under the lock, with pip configured as it is here
    (find-links, extra indexes, constraints), any local label."""
    version, url = _resolve("-c", str(LOCK), "torch")["torch"]
    assert Version(version.public) == TORCH, (version, url)


def test_torch_cpu_index_takes_the_cpu_build():
    """The README's `make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu`."""
    _skip_unless_reachable(f"{TORCH_CPU_INDEX}/torch/")
    args = (*PLAIN, "--extra-index-url", TORCH_CPU_INDEX, "-c", str(LOCK), "torch")
    version, url = _resolve(*args, env=_plain_env())["torch"]
    assert version == Version(f"{TORCH}+cpu"), (version, url)


@pytest.mark.parametrize(
    ("make_args", "pip_index"),
    [
        ((), None),
        ((f"TORCH_INDEX={TORCH_CPU_INDEX}",), f"--extra-index-url {TORCH_CPU_INDEX}"),
    ],
    ids=["default", "torch-index"],
)
def test_make_setup_passes_torch_index_only_when_set(make_args, pip_index):
    # -n prints the venv recipe's commands without running them; -B as if the venv were stale.
    proc = subprocess.run(
        ["make", "-n", "-B", ".venv/.ammlab-installed", *make_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    install = proc.stdout.replace("\\\n", " ").split("-c requirements.lock", 1)[1].splitlines()[0]
    if pip_index is None:
        assert "--extra-index-url" not in install
        assert "--index-url" not in install
    else:
        assert pip_index in install
