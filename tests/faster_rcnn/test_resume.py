"""Checkpointing of the training schemes: an interrupted run, resumed, ends with the weights, optimizer state and
data order of an uninterrupted one (both schemes, a stop inside a phase and at a phase boundary)."""
import pytest
import torch

from papers.faster_rcnn.data import Batches, DetSplit, Item
from papers.faster_rcnn.loss import DetLossConfig, Recipe
from papers.faster_rcnn.model import faster_rcnn_cpu
from papers.faster_rcnn.train import Checkpointing, train_alternating, train_joint
from shared import checkpoint as ckpt_io


def _split(n=5, size=64):
    g = torch.Generator().manual_seed(0)
    items = []
    for i in range(n):
        x = torch.randint(0, 255, (3, size, size), dtype=torch.uint8, generator=g)
        a = torch.randint(0, size // 2, (2,), generator=g).float()
        items.append(Item(x, torch.cat([a, a + size // 3]).view(1, 4), torch.tensor([0]), (size, size), str(i)))
    return DetSplit(items, ["x"], square=size)


class Stop(Exception):
    pass


def _train(scheme, ckpt=None, stop_at=None):
    torch.manual_seed(0)
    model = faster_rcnn_cpu(num_classes=1, cpu_widths=(8, 8, 16, 16), rpn_channels=16, fc_dim=32)
    batches = Batches(_split(), 2, seed=1, flip=0.5)                  # 2 batches an epoch: steps cross epochs
    gen = torch.Generator().manual_seed(2)
    seen = []

    def on_step(name, step, terms):
        seen.append((name, step))
        if stop_at is not None and (name[:1], step) == stop_at:
            raise Stop
    kw = dict(generator=gen, on_step=on_step, ckpt=ckpt, det_cfg=DetLossConfig(rois_per_image=8))
    if scheme == "joint":
        train_joint(model, batches, 5, Recipe(lr=0.01, lr_steps=(3,), max_iters=5), **kw)
    else:
        train_alternating(model, batches, (3, 2, 3, 2), Recipe(lr=0.01, lr_steps=(2,), max_iters=3), **kw)
    return model.state_dict(), seen


@pytest.mark.parametrize("scheme,stop_at", [("joint", ("j", 3)), ("alternating", ("2", 1)),
                                            ("alternating", ("3", 0)), ("alternating", ("4", 1))])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, scheme, stop_at):
    ref, ref_seen = _train(scheme)
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(Stop):
        _train(scheme, Checkpointing(path, every=2), stop_at=stop_at)
    assert path.is_file()
    n_before = len(ckpt_io.RESUMED)
    got, seen = _train(scheme, Checkpointing(path, every=2, resume=True))
    assert len(ckpt_io.RESUMED) == n_before + 1                        # the report is told it resumed
    assert 0 < len(seen) < len(ref_seen) and seen == ref_seen[-len(seen):]   # only the steps not yet done
    assert got.keys() == ref.keys()
    for k in ref:
        assert torch.equal(got[k], ref[k]), k


def test_checkpointing_needs_batches_that_restart_part_way(tmp_path):
    model = faster_rcnn_cpu(num_classes=1, cpu_widths=(8, 8, 16, 16), rpn_channels=16, fc_dim=32)
    batches = list(Batches(_split(), 2, seed=1))
    with pytest.raises(TypeError, match="Batches"):
        train_joint(model, batches, 2, Recipe(lr=0.01), ckpt=Checkpointing(tmp_path / "c.pt", every=1))
