import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The nets' kernels are tiny; on a shared CPU one thread is much faster (see model.one_thread)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
