"""Run a training script as one rank of a data-parallel job: ``torchrun --nproc_per_node N -m
pgm_ppl.training.launch script.py [args]``. Initialises the process group (``nccl`` when CUDA is available,
else ``gloo``), runs the script as ``__main__``, and tears the group down."""

import runpy
import sys

import torch
import torch.distributed as dist

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: torchrun --nproc_per_node N -m pgm_ppl.training.launch SCRIPT.py [ARGS...]")
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    try:
        sys.argv = sys.argv[1:]
        runpy.run_path(sys.argv[0], run_name="__main__")
    finally:
        dist.destroy_process_group()
