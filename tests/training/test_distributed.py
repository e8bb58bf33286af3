"""Data-parallel training: 2 processes (gloo, CPU) under torchrun equal one process with the same global batch."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ddp_worker import run_both  # noqa: E402

torch.set_num_threads(1)
TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="needs the gloo backend")
def test_two_process_ddp_equals_one_process(tmp_path):
    torchrun = str(TORCHRUN) if TORCHRUN.exists() else shutil.which("torchrun")
    out = tmp_path / "ddp.npz"
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "pgm_ppl.training.launch", str(worker), str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)
    try:
        _, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # torchrun and its two workers
        process.communicate()
        raise
    assert process.returncode == 0, stderr[-3000:]
    distributed = np.load(out, allow_pickle=False)
    single = run_both()
    assert set(distributed.files) == set(single)
    for name, value in single.items():  # float64: equal up to the order of floating-point sums
        np.testing.assert_allclose(distributed[name], value, rtol=1e-10, atol=1e-12, err_msg=name)
