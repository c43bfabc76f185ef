import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The nets' kernels are tiny; tests run on one thread so that they stay fast beside other jobs."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
