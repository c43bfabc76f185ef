import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """On a contended 2-core machine every OpenMP region with 2 threads can wait a whole scheduler
    quantum; the small tensors of these tests run far faster on one thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
