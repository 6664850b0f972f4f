"""Abstract and sharded init, on 8 simulated devices (a subprocess: the device count is
fixed when JAX starts)."""

import os
import pathlib
import subprocess
import sys

from named_optimizers import NAMED, NOT_SHARDED


def test_state_shardings_follow_the_params_on_an_8_device_mesh():
    script = pathlib.Path(__file__).with_name("sharding_check.py")
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # + the averaging chain, less muon and galore (named_optimizers.NOT_SHARDED)
    assert result.stdout.startswith(f"OK {len(NAMED) + 1 - len(NOT_SHARDED)} optimizers")
