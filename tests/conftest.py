"""Session-wide set-up: a private ammlab home, upstream port, account-lock folder and Ape
data folder for this test run.

They are set at import, before Ape loads ape-config.yaml (which expands
AMMLAB_UPSTREAM_RPC), so the suite never touches a user's running `ammlab chain up`, and
Ape's caches of contract types by address (which outlive a chain reset, so a redeployed
contract at a reused address would be read with an old ABI) start empty, as on a new machine.
The account locks are machine-wide by default (`keeper.txmanager.default_lock_dir`); each
test run (each xdist worker) takes its own folder, as separate machines would, so that two
workers' anvils that happen to share a block 0 never hold each other's keeper account.
"""

import os
import tempfile

from sim.chain import node as chainmod

_HOME = tempfile.mkdtemp(prefix="ammlab-test-home-")
os.environ[chainmod.HOME_ENV] = _HOME
os.environ[chainmod.UPSTREAM_ENV] = f"http://127.0.0.1:{chainmod.free_port()}"
os.environ["APE_DATA_FOLDER"] = tempfile.mkdtemp(prefix="ammlab-test-ape-")
os.environ["AMMLAB_LOCK_DIR"] = tempfile.mkdtemp(prefix="ammlab-test-locks-")
