import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from shared.checkpoint import load_checkpoint
from shared.trainer import Trainer, TrainingDiverged

sys.path.insert(0, str(Path(__file__).parent))
import toy  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_same_seed_same_metrics(tmp_path):
    h1 = toy.make_trainer(tmp_path / "a", 12).fit()
    h2 = toy.make_trainer(tmp_path / "b", 12).fit()
    h3 = toy.make_trainer(tmp_path / "c", 12, seed=1).fit()
    assert h1 == h2
    assert h1 != h3


def test_resume_is_bit_identical(tmp_path):
    # 20 steps straight, against 7 steps + resume to 20 (crosses epoch boundaries: 8 steps/epoch).
    full = toy.make_trainer(tmp_path / "full", 20)
    full.fit()
    part = toy.make_trainer(tmp_path / "part", 7)
    part.fit()
    resumed = toy.make_trainer(tmp_path / "part", 20)
    with torch.no_grad():  # a different init, to be overwritten by the checkpoint
        for p in resumed.raw_model.parameters():
            p.add_(1.0)
    torch.manual_seed(999)  # and a different RNG state, to be restored from it
    resumed.fit(resume=True)
    a, b = params(full.raw_model), params(resumed.raw_model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the 7-step run evaluated at its end; every periodic evaluation agrees
    assert [h for h in resumed.history if h["step"] % 5 == 0] == full.history
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "part" / "log.jsonl").read_text().splitlines()
             if "event" not in json.loads(ln)]
    assert steps == list(range(1, 21))  # one log line per step, none repeated after the resume


def test_resume_refuses_another_seed(tmp_path):
    toy.make_trainer(tmp_path, 3).fit()
    with pytest.raises(ValueError, match="written with --seed 0.*resume with --seed 0"):
        toy.make_trainer(tmp_path, 6, seed=4).fit(resume=True)


def test_resume_with_grad_accum_is_bit_identical(tmp_path):
    full = toy.make_trainer(tmp_path / "f", 9, batch_size=8, grad_accum=2)
    full.fit()
    part = toy.make_trainer(tmp_path / "p", 4, batch_size=8, grad_accum=2)
    part.fit()
    res = toy.make_trainer(tmp_path / "p", 9, batch_size=8, grad_accum=2)
    res.fit(resume=True)
    a, b = params(full.raw_model), params(res.raw_model)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_contents_and_log(tmp_path):
    t = toy.make_trainer(tmp_path, 10, eval_every=5)
    hist = t.fit()
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 10 and set(state) >= {"model", "optimizer", "scheduler", "rng", "history"}
    assert [h["step"] for h in hist] == [5, 10]
    lines = [json.loads(ln) for ln in (tmp_path / "log.jsonl").read_text().splitlines()]
    train = [ln for ln in lines if "event" not in ln]
    assert len(train) == 10 and {"loss", "lr", "step_time"} <= set(train[0])
    assert train[-1]["lr"] == pytest.approx(0.01 * 0.5)  # StepLR(7) stepped 10 times
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write left no temporary file


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    t = toy.make_trainer(tmp_path, 30, ckpt_every=3)
    calls = {"n": 0}

    def bad_loss(model, batch):
        calls["n"] += 1
        loss = toy.loss_fn(model, batch)
        return loss * float("nan") if calls["n"] == 5 else loss

    t.loss_fn = bad_loss
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 5.*last good checkpoint"):
        t.fit()
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 3
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert all(torch.isfinite(p).all() for p in t.raw_model.parameters())  # the bad step never applied


def test_log_lines_average_their_window(tmp_path):
    one = toy.make_trainer(tmp_path / "one", 8, log_every=1)
    one.fit()
    four = toy.make_trainer(tmp_path / "four", 8, log_every=4)
    four.fit()
    read = lambda p: [json.loads(ln) for ln in (p / "log.jsonl").read_text().splitlines() if '"event"' not in ln]
    per_step = [r["loss"] for r in read(tmp_path / "one")]
    windows = read(tmp_path / "four")
    assert [r["step"] for r in windows] == [4, 8]
    assert windows[0]["loss"] == pytest.approx(sum(per_step[:4]) / 4)
    assert windows[1]["loss"] == pytest.approx(sum(per_step[4:]) / 4)


def test_gradient_clipping_logs_norm(tmp_path):
    t = toy.make_trainer(tmp_path, 2, grad_clip=1e-3)
    before = params(t.raw_model)
    t.fit()
    log = [json.loads(ln) for ln in (tmp_path / "log.jsonl").read_text().splitlines() if "grad_norm" in ln]
    assert log and all(r["grad_norm"] > 1e-3 for r in log)
    moved = sum((params(t.raw_model)[k] - before[k]).norm() for k in before)
    assert moved < 0.01 * 2 * 2  # lr * clip-bounded steps (with momentum) stay tiny


def test_bad_batch_size_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="fewer than one global batch"):
        toy.make_trainer(tmp_path, 2, batch_size=128)
    with pytest.raises(ValueError, match="not divisible"):
        toy.make_trainer(tmp_path, 2, batch_size=9, grad_accum=2)


def test_sigterm_writes_checkpoint_then_resume_finishes(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, str(ROOT / "tests/shared/toy.py"), str(out), "200", "8", "--sleep", "0.02"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    deadline = time.time() + 60
    while not (out / "log.jsonl").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode != 0
    assert "checkpoint written" in err and "--resume" in err
    step = load_checkpoint(out / "checkpoint.pt")["step"]
    assert 0 < step < 200
    subprocess.run(cmd[:-2] + ["--resume"], check=True, capture_output=True, timeout=120)
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 200
