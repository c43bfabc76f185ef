"""torchrun with 2 CPU processes (gloo) trains the same parameters as one process on the same global batch."""
import os
import subprocess
import sys
from pathlib import Path

import torch

from shared import distributed

ROOT = Path(__file__).resolve().parents[2]
TOY = str(ROOT / "tests/shared/toy.py")


def test_single_process_is_a_world_of_one():
    info = distributed.init()
    assert (info.rank, info.world_size, info.is_main, info.enabled) == (0, 1, True, False)
    assert distributed.all_reduce_mean({"a": 2.0}) == {"a": 2.0}


def test_torchrun_ddp_matches_single_process(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = tmp_path / "single"
    subprocess.run([sys.executable, TOY, str(single), "12", "8", "--exact"], check=True, env=env,
                   capture_output=True, timeout=120)
    ddp = tmp_path / "ddp"
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        TOY, str(ddp), "12", "8", "--exact"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    a = torch.load(single / "params.pt", weights_only=True)
    b = torch.load(ddp / "params.pt", weights_only=True)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    # only rank 0 wrote: one log, one checkpoint
    assert sorted(p.name for p in ddp.iterdir()) == ["checkpoint.pt", "log.jsonl", "params.pt"]
    assert len([ln for ln in (ddp / "log.jsonl").read_text().splitlines() if '"event"' not in ln]) == 12
