"""Our module against the same layers assembled from torchvision.ops.Conv2dNormActivation (weights ported
through interop.key_map): equal outputs and gradients in train and eval mode."""
import pytest
import torch

from papers.yolo.interop import key_map, to_reference, torchvision_reference
from papers.yolo.model import YOLO_PAPER, build
from shared.profiling import count_params


@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("train", [True, False])
def test_equal_outputs_and_gradients(batch_norm, train):
    torch.manual_seed(0)
    ours = build("yolo-cpu", C=3, batch_norm=batch_norm)
    ref = to_reference(ours, torchvision_reference(ours.cfg))
    ours.train(train)
    ref.train(train)
    x = torch.rand(4, 3, 112, 112)
    torch.manual_seed(1)
    a = ours(x)
    torch.manual_seed(1)                                  # same dropout mask
    b = ref(x)
    torch.testing.assert_close(a, b)
    a.square().sum().backward()
    b.square().sum().backward()
    km = key_map(ours)
    grads = dict(ref.named_parameters())
    for k, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, grads[km[k]].grad, rtol=1e-4, atol=1e-5)


def test_reference_of_the_paper_net_has_the_same_parameters():
    assert count_params(lambda: torchvision_reference(YOLO_PAPER)) == 271_703_550
