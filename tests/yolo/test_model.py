"""Fig. 3 facts (meta device), Fast YOLO, the §2.2 classifier, the CPU configuration, train-mode behaviour."""
import pytest
import torch
import torch.nn as nn

from papers.yolo.model import (FIG3_BACKBONE, FIG3_EXTRA, VARIANTS, YOLOConfig, YOLO, build, conv_count,
                               split_output, total_stride)
from shared.profiling import count_flops, count_params


def test_variants_are_the_papers_names():
    assert set(VARIANTS) == {"yolo", "fast-yolo", "yolo-classifier", "yolo-cpu"}


def test_paper_net_parameter_count():
    # PAPER_FACTS §4: Fig. 3 as drawn, conv biases, no BatchNorm, FC 4096 -> 271,703,550; FC1 205,524,992
    assert count_params(VARIANTS["yolo"]) == 271_703_550
    with torch.device("meta"):
        net = VARIANTS["yolo"]()
    assert sum(p.numel() for p in net.head[1].parameters()) == 7 * 7 * 1024 * 4096 + 4096 == 205_524_992
    convs = sum(p.numel() for m in net.modules() if isinstance(m, nn.Conv2d) for p in m.parameters())
    assert convs == 60_155_968


def test_paper_net_shape_layers_stride_flops():
    with torch.device("meta"):
        net = VARIANTS["yolo"]()
        out = net(torch.zeros(2, 3, 448, 448))
        macs = count_flops(net, torch.zeros(1, 3, 448, 448)) / 2
    assert tuple(out.shape) == (2, 7, 7, 30)                 # S x S x (B*5 + C)
    assert conv_count(net) == 24                              # §2.1: 24 convolutional layers ...
    assert sum(isinstance(m, nn.Linear) for m in net.modules()) == 2   # ... followed by 2 fully connected
    assert total_stride(FIG3_BACKBONE + FIG3_EXTRA) == 64     # 448 -> 7
    assert round(macs / 1e9, 2) == 20.29                      # PAPER_FACTS §4 [LOCAL]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    # §2.2: leaky ReLU 0.1 after every layer but the last, which is linear
    acts = [m for m in net.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(acts) == 25 and all(a.negative_slope == 0.1 for a in acts)
    assert isinstance(net.head[-1], nn.Linear)
    # dropout 0.5 right after the first connected layer (and its activation)
    kinds = [type(m) for m in net.head]
    assert kinds == [nn.Flatten, nn.Linear, nn.LeakyReLU, nn.Dropout, nn.Linear] and net.head[3].p == 0.5


def test_fast_yolo_and_classifier():
    with torch.device("meta"):
        fast = VARIANTS["fast-yolo"]()
        assert tuple(fast(torch.zeros(1, 3, 448, 448)).shape) == (1, 7, 7, 30)
        clf = VARIANTS["yolo-classifier"]()
        assert tuple(clf(torch.zeros(1, 3, 224, 224)).shape) == (1, 1000)
        yolo = VARIANTS["yolo"]()
    assert conv_count(fast) == 9                              # §2.1: 9 instead of 24
    assert conv_count(clf) == 20                              # §2.2: the first 20 conv layers
    assert isinstance(clf.pool, nn.AdaptiveAvgPool2d)
    # the classifier's backbone is YOLO's: same keys and shapes, so pre-trained weights load directly
    assert {k: v.shape for k, v in clf.backbone.state_dict().items()} == \
        {k: v.shape for k, v in yolo.backbone.state_dict().items()}


def test_classifier_weights_load_into_detector():
    cfg = YOLOConfig(S=8, C=3, image_size=64, backbone=(("C", 3, 4, 2), "M", ("C", 1, 8, 1)), extra=(("C", 3, 8, 2),),
                     fc_hidden=16)
    from papers.yolo.model import YOLOClassifier
    clf = YOLOClassifier(cfg, num_classes=5)
    det = YOLO(cfg)
    det.backbone.load_state_dict(clf.backbone.state_dict())
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(det.backbone(x), clf.backbone(x))


def test_cpu_configuration_same_head():
    net = build("yolo-cpu", C=1)
    assert net.cfg.S == 7 and net.cfg.B == 2 and net.cfg.batch_norm
    out = net.eval()(torch.rand(2, 3, 112, 112))
    assert out.shape == (2, 7, 7, 11)
    xywh, conf, probs = split_output(out, 2)
    assert xywh.shape == (2, 7, 7, 2, 4) and conf.shape == (2, 7, 7, 2) and probs.shape == (2, 7, 7, 1)
    torch.testing.assert_close(conf[..., 1], out[..., 9])     # layout [x, y, w, h, c] * B, then classes
    with pytest.raises(ValueError, match="stride"):
        build("yolo-cpu", image_size=100)
    with pytest.raises(ValueError, match="unknown"):
        build("yolo9000")


def test_batch_norm_is_a_switch_and_trains():
    plain = build("yolo-cpu", C=1, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert all(m.bias is not None for m in plain.modules() if isinstance(m, nn.Conv2d))
    bn = build("yolo-cpu", C=1)
    assert all(m.bias is None for m in bn.modules() if isinstance(m, nn.Conv2d))   # BN carries the shift
    norm = next(m for m in bn.modules() if isinstance(m, nn.BatchNorm2d))
    x = torch.rand(4, 3, 112, 112) + 1.0
    bn.train()(x)
    assert norm.num_batches_tracked == 1 and norm.running_mean.abs().sum() > 0
    before = norm.running_mean.clone()
    bn.eval()(x)
    torch.testing.assert_close(norm.running_mean, before)


def test_dropout_acts_in_train_mode_only():
    torch.manual_seed(0)
    net = build("yolo-cpu", C=1, batch_norm=False)
    seen = []
    net.head[-1].register_forward_pre_hook(lambda m, a: seen.append(a[0].detach()))
    x = torch.rand(2, 3, 112, 112)
    net.train()(x)
    net.eval()(x)
    zeros_train = (seen[0] == 0).float().mean().item()
    zeros_eval = (seen[1] == 0).float().mean().item()
    assert zeros_train > zeros_eval + 0.3                       # about half the FC-1 units are dropped
    torch.testing.assert_close(seen[0][seen[0] != 0], 2 * seen[1][seen[0] != 0])   # survivors scaled by 1/(1-p)
