"""Issue 11: runs that never lose work and never lie. One test (or more) per item; each fails on the
code before the issue. A toy paper (toy_paper.py) runs on the shared Run + Trainer."""
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from shared import runfolder
from shared.checkpoint import load_checkpoint, read_run_meta, save_checkpoint
from shared.cli import Run
from shared.config import ConfigError, apply_overrides, param, validate
from shared.data import registry
from shared.errors import CheckpointError, DeviceError, ResumeMismatch, RunFolderError, UserError
from shared.device import get_device
from shared.trainer import Trainer

sys.path.insert(0, str(Path(__file__).parent))
import toy  # noqa: E402
import toy_paper  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TOY = str(ROOT / "tests/shared/toy_paper.py")
PY = sys.executable


def toy_run(out, *extra):
    return toy_paper.main(["--preset", "smoke", "--out", str(out), "--device", "cpu", *extra])


def cli(*args, cwd=None, env=None, timeout=120):
    return subprocess.run([PY, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, **(env or {})})


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- 1. resume checks what it resumes ------------------------------------------------------------

def test_checkpoint_carries_the_resolved_config(tmp_path, no_data_env):
    toy_run(tmp_path / "r", "--set", "lr=0.02")
    meta = read_run_meta(tmp_path / "r" / "checkpoint.pt")
    assert meta["paper"] == "toy" and meta["seed"] == 0 and meta["config"]["lr"] == 0.02


@pytest.mark.parametrize("sets, keys", [(["lr=0.5", "warmup_steps=0"], ["lr 0.05 -> 0.5", "warmup_steps 2 -> 0"]),
                                        (["width=16"], ["width 8 -> 16"])])
def test_resume_with_another_config_is_refused_before_anything_is_written(tmp_path, no_data_env, sets, keys):
    out = tmp_path / "r"
    toy_run(out)
    before = snapshot(out)
    args = [x for s in sets for x in ("--set", s)]
    with pytest.raises(ResumeMismatch) as e:
        toy_run(out, "--resume", *args)
    msg = str(e.value)
    assert "\n" not in msg and all(k in msg for k in keys) and "--overwrite" in msg
    assert snapshot(out) == before  # config.json, log and checkpoint untouched


def test_resume_with_another_seed_is_refused_before_anything_is_written(tmp_path, no_data_env):
    out = tmp_path / "r"
    toy_run(out)
    before = snapshot(out)
    with pytest.raises(ResumeMismatch, match="--seed 0"):
        toy_run(out, "--resume", "--seed", "3")
    assert snapshot(out) == before


def test_a_legitimate_change_is_allowed_and_reported(tmp_path, no_data_env):
    out = tmp_path / "r"
    toy_run(out)
    run = toy_run(out, "--resume", "--set", "max_steps=9")
    m = json.loads((out / "metrics.json").read_text())
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 9
    assert any("max_steps changed from 6 to 9" in n for n in m["notes"])
    assert any("measure only the work done after the resume" in n for n in m["notes"])
    assert m["environment"]["resumed"][0]["step"] == 6 and run.folder.resuming


def test_resume_is_exact_through_the_cli(tmp_path, no_data_env):
    toy_run(tmp_path / "a", "--set", "max_steps=9")
    full = json.loads((tmp_path / "a" / "metrics.json").read_text())
    toy_run(tmp_path / "b")
    toy_run(tmp_path / "b", "--resume", "--set", "max_steps=9")
    part = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert part["results"]["params"] == full["results"]["params"]


# -- 2. nothing is overwritten by accident -------------------------------------------------------

def test_a_fresh_run_over_a_checkpoint_is_refused(tmp_path, no_data_env):
    out = tmp_path / "r"
    toy_run(out)
    before = snapshot(out)
    with pytest.raises(RunFolderError, match="--resume.*--overwrite"):
        toy_run(out)
    assert snapshot(out) == before
    toy_run(out, "--overwrite")  # the explicit way to start afresh


@pytest.mark.parametrize("where", ["repo", "unrelated", "file", "other_paper"])
def test_not_a_run_folder_is_refused(tmp_path, no_data_env, where):
    if where == "repo":
        out = ROOT
    elif where == "unrelated":
        out = tmp_path / "u"
        out.mkdir()
        (out / "README.md").write_text("mine")
    elif where == "file":
        out = tmp_path / "f"
        out.write_text("a file")
    else:
        out = tmp_path / "o"
        out.mkdir()
        (out / "config.json").write_text(json.dumps({"paper": "gpt", "preset": "smoke", "config": {}}))
    before = snapshot(out) if out.is_dir() and out != ROOT else None
    for flags in ([], ["--overwrite"]):
        with pytest.raises(RunFolderError, match="--out"):
            toy_run(out, *flags)
    if before is not None:
        assert snapshot(out) == before


def test_mcculloch_pitts_smoke_into_the_repository_root_is_refused(no_data_env):
    r = cli("-m", "papers.mcculloch_pitts.reproduce", "--preset", "smoke", "--out", ".", cwd=ROOT,
            env={"PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and "is the repository" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_reused_run_folder_is_cleared_of_stale_artifacts(tmp_path, no_data_env):
    out = tmp_path / "r"
    toy_run(out)
    (out / "finetune").mkdir()
    (out / "finetune" / "old.json").write_text("{}")
    (out / "stale.png").write_bytes(b"old figure")
    toy_run(out, "--overwrite")
    assert not (out / "finetune").exists() and not (out / "stale.png").exists()
    assert (out / "figure.png").is_file() and (out / "metrics.json").is_file()


def test_smoke_into_a_reproductions_folder_needs_overwrite(tmp_path, no_data_env):
    out = tmp_path / "reproductions" / "toy"
    toy_paper.main(["--preset", "quick", "--out", str(out), "--set", "max_steps=2"])
    os.remove(out / "checkpoint.pt")  # as committed: no checkpoint
    before = snapshot(out)
    with pytest.raises(RunFolderError, match="quick report.*--overwrite"):
        toy_run(out)
    assert snapshot(out) == before
    toy_run(out, "--overwrite")
    assert json.loads((out / "metrics.json").read_text())["preset"] == "smoke"


# -- 3. input validated before work starts -------------------------------------------------------

@dataclass
class Cfg:
    batch_size: int = 8
    ft_batch_size: int = 8
    max_steps: int = 10
    lr: float = 0.1
    min_lr: float = 0.0
    warmup_steps: int = 0
    dropout: float = 0.1
    train_fraction: float = 0.9
    seed: int = 0
    n_head: int = 2
    d_model: int = 8
    task: str = param("trec", choices=("trec", "sst2"))
    top_k: int = param(5, ge=0)


@pytest.mark.parametrize("override, key", [
    ("batch_size=-4", "batch_size"), ("batch_size=0", "batch_size"), ("ft_batch_size=0", "ft_batch_size"),
    ("max_steps=-5", "max_steps"), ("max_steps=0", "max_steps"), ("train_fraction=1.5", "train_fraction"),
    ("train_fraction=0", "train_fraction"), ("lr=0", "lr"), ("lr=-1e-3", "lr"), ("lr=nan", "lr"),
    ("dropout=1", "dropout"), ("dropout=-0.1", "dropout"), ("seed=-1", "seed"),
    (f"seed={2 ** 64}", "seed"), ("n_head=3", "n_head"), ("task=mnli", "task"), ("top_k=-1", "top_k")])
def test_bad_values_are_refused_in_one_line(override, key):
    with pytest.raises(ConfigError) as e:
        validate(apply_overrides(Cfg(), [override]))
    msg = str(e.value)
    assert f"'{key}' = " in msg and "fix: --set" in msg and "\n" not in msg
    assert "must be" in msg or "does not divide" in msg  # the allowed range


def test_good_values_and_every_preset_pass():
    validate(apply_overrides(Cfg(), ["min_lr=0", "warmup_steps=0", "dropout=0", "train_fraction=1"]))
    import importlib
    for slug in sorted(p.parent.name for p in (ROOT / "papers").glob("*/reproduce.py")):  # every paper, new ones too
        for name, preset in importlib.import_module(f"papers.{slug}.reproduce").PRESETS.items():
            validate(preset)


def test_the_config_validate_hook(tmp_path, no_data_env):
    with pytest.raises(ConfigError, match="'sleep' = -1.0 must be >= 0"):
        toy_run(tmp_path / "r", "--set", "sleep=-1")
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_seed_flag_range(tmp_path, no_data_env):
    for s in ("-1", str(2 ** 63)):
        with pytest.raises(ConfigError, match="--seed"):
            toy_run(tmp_path / "r", "--seed", s)


def test_negative_batch_never_spins(tmp_path):
    # before: batch_size=-4 passed the divisibility check and the loop spun forever ignoring SIGTERM
    with pytest.raises(ConfigError, match="batch_size = -4"):
        toy.make_trainer(tmp_path, 5, batch_size=-4)


def test_gpt_fine_tuning_batch_is_checked_before_pre_training(tmp_path, no_data_env):
    from papers.gpt import reproduce
    t = time.perf_counter()
    with pytest.raises(ConfigError, match="'ft_batch_size' = 0"):
        reproduce.main(["--preset", "smoke", "--out", str(tmp_path / "g"), "--set", "ft_batch_size=0"])
    assert time.perf_counter() - t < 5 and not (tmp_path / "g").exists()


# -- 4. one line, not a traceback ----------------------------------------------------------------

@pytest.mark.parametrize("args, text", [
    (["--set", "batch_size=-4"], "'batch_size' = -4"),
    (["--set", "lrr=1"], "Did you mean 'lr'"),
    (["--device", "tpu"], "--device 'tpu'"),
    (["--data-dir", "/nonexistent/data"], "--data-dir /nonexistent/data does not exist"),
])
def test_errors_are_one_line_with_exit_status_2(tmp_path, args, text):
    r = cli(TOY, "--preset", "smoke", "--out", str(tmp_path / "r"), *args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0]
    assert not (tmp_path / "r").exists()


def test_debug_shows_the_traceback(tmp_path):
    r = cli(TOY, "--out", str(tmp_path / "r"), "--set", "batch_size=-4", "--debug", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" in r.stderr
    r = cli(TOY, "--out", str(tmp_path / "r"), "--set", "batch_size=-4", cwd=tmp_path, env={"PAPERS_DEBUG": "1"})
    assert "Traceback" in r.stderr


def test_a_paper_that_calls_main_directly_gets_one_line_errors(tmp_path):
    r = cli("-m", "papers.gpt.reproduce", "--preset", "smoke", "--out", str(tmp_path / "g"), "--set",
            "batch_size=0", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "'batch_size' = 0" in r.stderr


def test_device_names():
    assert get_device("CPU").type == "cpu" and get_device(" Cpu ").type == "cpu"
    for bad in ("tpu", "cuda:x", "gpu"):
        with pytest.raises(DeviceError, match="is not one of"):
            get_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="no GPU"):
            get_device("CUDA")
    else:
        with pytest.raises(DeviceError, match="GPU"):
            get_device(f"cuda:{torch.cuda.device_count()}")


def test_an_out_that_cannot_be_written_is_refused(tmp_path, no_data_env):
    (tmp_path / "f").write_text("a file")
    with pytest.raises(RunFolderError, match="cannot be created"):
        toy_run(tmp_path / "f" / "run")  # a file where a folder should be
    with pytest.raises(RunFolderError, match="cannot be created|not writable"):
        toy_run("/proc/no_such_run")  # read-only even for root
    if os.geteuid() != 0:  # root writes into read-only folders
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            with pytest.raises(RunFolderError, match="not writable"):
                toy_run(ro / "run")
        finally:
            ro.chmod(0o755)


# -- 5. signals and logs -------------------------------------------------------------------------

@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_exits_with_128_plus_signum_after_the_checkpoint(tmp_path, sig, code):
    out = tmp_path / "r"
    p = subprocess.Popen([PY, TOY, "--preset", "quick", "--out", str(out), "--set", "max_steps=400", "--set",
                          "sleep=0.01"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert "checkpoint written" in err and "--resume" in err
    assert 0 < load_checkpoint(out / "checkpoint.pt")["step"] < 400


def test_a_partial_last_log_line_does_not_block_resume(tmp_path):
    toy.make_trainer(tmp_path, 7).fit()
    with open(tmp_path / "log.jsonl", "a") as f:
        f.write('{"step": 8, "loss": 0.1')  # a crash mid-write
    t = toy.make_trainer(tmp_path, 10)
    t.fit(resume=True)
    lines = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "event" not in r] == list(range(1, 11))


@dataclass
class Exp:
    n: int = 2


def test_run_log_is_never_duplicated_and_resume_says_it_did_not_apply(tmp_path, no_data_env, capsys):
    out = tmp_path / "exp"
    for flags in ([], ["--resume"], ["--resume"]):
        run = Run.from_cli("backprop", {"smoke": Exp(), "quick": Exp()}, ["--preset", "smoke", "--out", str(out),
                                                                        "--device", "cpu", *flags])
        run.log({"experiment": "a"})
        run.log({"experiment": "b"})
        assert [json.loads(x)["experiment"] for x in (out / "log.jsonl").read_text().splitlines()] == ["a", "b"]
    assert "nothing to resume" in capsys.readouterr().err
    assert any("--resume did not apply" in n for n in run.resume_notes())


def test_resume_with_a_state_dict_mismatch_is_one_line(tmp_path):
    toy.make_trainer(tmp_path, 3).fit()
    t = toy.make_trainer(tmp_path, 6)
    t.raw_model = torch.nn.Sequential(torch.nn.Linear(5, 3))  # another shape, as with --set d_model=...
    with pytest.raises(ResumeMismatch) as e:
        t.load()
    assert "\n" not in str(e.value) and "does not fit" in str(e.value)


# -- 6. data messages say what is true -----------------------------------------------------------

def test_corrupt_checkpoint_message_gives_no_unsafe_advice(tmp_path):
    (tmp_path / "c.pt").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "c.pt")
    assert "weights_only" not in str(e.value) and "corrupt" in str(e.value)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "evil.pt")
    assert "weights_only=False" not in str(e.value) and "never unpickled" in str(e.value)


def test_fetch_again_is_said_only_for_files_with_a_url(tmp_path):
    (tmp_path / "f.txt").write_bytes(b"tampered")
    for urls, says in (((), False), (("https://example.org/f.txt",), True)):
        with pytest.raises(registry.DataError) as e:
            registry.verify(tmp_path / "f.txt", registry.DataFile("f.txt", urls, sha256="0" * 64))
        assert ("fetch it again" in str(e.value)) == says


def test_a_failed_fetch_leaves_no_folder(monkeypatch, no_data_env):
    f = registry.DataFile("a.txt", ("file:///nonexistent/a.txt",), sha256="0" * 64)
    monkeypatch.setitem(registry.REGISTRY, "gone", registry.DatasetSpec("gone", "", "", (f,)))
    with pytest.raises(registry.DataError, match="downloading it failed"):
        registry.require("gone", "a.txt", no_data_env / "root")
    assert not (no_data_env / "root").exists()


def test_verify_skips_optional_files(monkeypatch, no_data_env):
    import hashlib
    body = b"test set"
    need = registry.DataFile("test.bin", ("https://example.org/t",), sha256=hashlib.sha256(body).hexdigest())
    opt = registry.DataFile("train.bin", ("https://example.org/tr",), sha256="0" * 64)
    monkeypatch.setitem(registry.REGISTRY, "part", registry.DatasetSpec("part", "", "", (opt, need),
                                                                         optional=("train.bin",)))
    (no_data_env / "d" / "part").mkdir(parents=True)
    (no_data_env / "d" / "part" / "test.bin").write_bytes(body)
    assert registry.fetch("part", no_data_env / "d", download=False) == [no_data_env / "d" / "part" / "test.bin"]


def test_a_partial_dataset_is_reported_before_any_work(no_data_env):
    root = no_data_env / "d"
    (root / "trec_qc").mkdir(parents=True)
    assert registry.all_or_none("trec_qc", ("train.txt", "test.txt"), root) is False  # embedded default
    (root / "trec_qc" / "train.txt").write_text("DESC:def what is it ?\n")
    with pytest.raises(registry.DataError, match="trec_qc/train.txt is present but trec_qc/test.txt is missing"):
        registry.all_or_none("trec_qc", ("train.txt", "test.txt"), root)


def test_pickled_data_cannot_run_code(tmp_path):
    import pickle

    import numpy as np
    from shared.data import formats
    good = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}
    (tmp_path / "ok").mkdir()
    for n in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (tmp_path / "ok" / n).write_bytes(pickle.dumps(good))
    x, y = formats.read_cifar_batches(tmp_path / "ok", "train")
    assert x.shape == (10, 32, 32, 3) and list(y[:2]) == [0, 1]

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch pwned",))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(registry.DataError, match="not loaded"):
        formats.read_cifar_batches(tmp_path / "bad", "test")
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


# -- 7. make and paths ---------------------------------------------------------------------------

def test_make_passes_data_dir_and_args_with_spaces():
    r = subprocess.run(["make", "-n", "-C", str(ROOT), "gpt-smoke", "DATA_DIR=/tmp/my data",
                        "ARGS=--set 'corpus=/my books/all.txt'"], capture_output=True, text=True, timeout=60)
    line = [ln for ln in r.stdout.splitlines() if "papers.gpt.reproduce" in ln][-1]
    argv = shlex.split(line)
    assert argv[argv.index("--data-dir") + 1] == "/tmp/my data"
    assert argv[argv.index("--set") + 1] == "corpus=/my books/all.txt"


def test_a_shadowing_shared_folder_is_named(tmp_path):
    (tmp_path / "shared" / "data").mkdir(parents=True)  # e.g. a team folder beside the repo
    (tmp_path / "shared" / "__init__.py").write_text("")  # found first on sys.path ('' = the current folder)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([PY, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, ''); "
                        "import papers.gpt.reproduce"], capture_output=True, text=True, cwd=tmp_path, env=env,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "shadows this project's `shared` package" in lines[0] and str(tmp_path) in lines[0]


# -- 9. the reliability table names tests that exist ----------------------------------------------

def test_reliability_table_points_at_real_tests():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    section = text.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    names = [n for n in __import__("re").findall(r"`(tests/[\w/]+\.py)::(\w+)", section)]
    assert len(names) >= 8
    for path, name in names:
        assert f"def {name}(" in (ROOT / path).read_text(), f"{path}::{name}"
