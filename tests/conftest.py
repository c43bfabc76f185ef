import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def no_data_env(monkeypatch, tmp_path):
    """Tests never depend on ../shared/data: point every data root at an empty folder."""
    monkeypatch.delenv("PAPERS_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
