import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """The team machine has 2 cores shared by several jobs; one intra-op thread avoids OpenMP
    oversubscription stalls when another process is busy (results do not depend on it)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
