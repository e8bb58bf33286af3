"""The property suite runs thousands of tiny factorisations: one BLAS/OpenMP thread each (threads spinning on a
busy machine made a 3 x 3 triangular solve take 20 ms), so the folder's time is the algorithms' own."""

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(threads)
