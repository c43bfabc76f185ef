"""bf16 autocast on the CPU, ``amp=auto`` by capability, channels_last, exact resume, and the report's record."""
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from shared import precision
from shared.cli import Run
from shared.seed import seed_everything
from shared.trainer import Trainer


def test_amp_auto_is_a_function_of_the_cpu_flags_only():
    assert precision.resolve_amp("auto", "cpu", flags={"fpu", "avx2", "amx_bf16", "amx_tile"}) is True
    assert precision.resolve_amp("auto", "cpu", flags={"fpu", "avx512f", "avx512_bf16"}) is True
    assert precision.resolve_amp("auto", "cpu", flags={"fpu", "avx2", "avx512f"}) is False
    assert precision.resolve_amp(True, "cpu", flags=set()) is True       # asked for explicitly: always
    assert precision.resolve_amp("false", "cpu") is False and precision.resolve_amp("on", "cpu") is True
    with pytest.raises(ValueError, match="amp='maybe'"):
        precision.resolve_amp("maybe", "cpu")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16 amx_tile\n\nprocessor\t: 1\n")
    assert precision.cpu_flags(f) == {"fpu", "sse", "avx512_bf16", "amx_tile"}
    assert precision.cpu_has_native_bf16(precision.cpu_flags(f))
    assert precision.cpu_flags(tmp_path / "absent") == set()


class Data(torch.utils.data.Dataset):
    def __init__(self, n=32):
        g = torch.Generator().manual_seed(1)
        self.x, self.y = torch.randn(n, 3, 8, 8, generator=g), torch.randint(0, 4, (n,), generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def conv_net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


def make(out, steps, amp=True, channels_last=True, seen=None):
    seed_everything(0)
    model = conv_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def loss_fn(m, batch):
        x, y = batch
        x = x + 0.01 * torch.randn_like(x)               # draws from the checkpointed RNG
        logits = m(x)
        if seen is not None:
            seen.append((logits.dtype, x.is_contiguous(memory_format=torch.channels_last)))
        return nn.functional.cross_entropy(logits.float(), y)

    return Trainer(model, opt, Data(), loss_fn=loss_fn, batch_size=8, max_steps=steps, out_dir=out,
                   amp=amp, channels_last=channels_last, log_every=1, seed=0)


def test_cpu_amp_computes_in_bf16_and_keeps_fp32_master_weights(tmp_path):
    seen = []
    t = make(tmp_path / "a", 3, seen=seen)
    t.fit()
    assert t.amp and all(dtype == torch.bfloat16 and cl for dtype, cl in seen)
    assert all(p.dtype == torch.float32 for p in t.raw_model.parameters())
    assert all(v.dtype == torch.float32 for s in t.optimizer.state.values() for v in s.values()
               if torch.is_tensor(v) and v.is_floating_point())
    assert t.raw_model[0].weight.is_contiguous(memory_format=torch.channels_last)
    seen.clear()
    make(tmp_path / "b", 1, amp=False, channels_last=False, seen=seen).fit()
    assert seen == [(torch.float32, False)]


def test_resume_with_cpu_amp_and_channels_last_is_bit_identical(tmp_path):
    full = make(tmp_path / "full", 9)
    full.fit()
    make(tmp_path / "part", 4).fit()
    res = make(tmp_path / "part", 9)
    torch.manual_seed(123)                                # a different RNG state, restored from the checkpoint
    res.fit(resume=True)
    a, b = full.raw_model.state_dict(), res.raw_model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@dataclass
class Cfg:
    steps: int = 1


def test_run_environment_records_precision_layout_and_threads(tmp_path):
    run = Run.from_cli("backprop", {"smoke": Cfg()}, ["--preset", "smoke", "--out", str(tmp_path / "r"),
                                                       "--device", "cpu"])
    assert run.environment()["precision"] == "fp32"       # no trainer: nothing autocast
    make(tmp_path / "t", 1, amp=True, channels_last=True)
    env = run.environment()
    assert env["precision"] == "bf16 autocast, fp32 master weights" and env["layout"] == "channels_last"
    assert env["cpu_threads"] == torch.get_num_threads() and env["cpu_cores"] >= 1
    assert "native bf16" in env["cpu_capability"] and "interop_threads" in env
    make(tmp_path / "u", 1, amp=False, channels_last=False)  # a run mixing settings lists both
    assert run.environment()["precision"] == "bf16 autocast, fp32 master weights + fp32"
    Run.from_cli("backprop", {"smoke": Cfg()}, ["--preset", "smoke", "--out", str(tmp_path / "r"), "--device", "cpu"])
    assert precision.USED == {}                            # a new run starts a fresh record
