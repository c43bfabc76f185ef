import math

import pytest
import torch

from papers.resnet.loss import cross_entropy, error_counts, topk_error


def test_cross_entropy_hand_computed():
    logits = torch.tensor([[0.0, math.log(3.0)], [2.0, 2.0]])
    target = torch.tensor([1, 0])
    # row 1: softmax = [1/4, 3/4] -> -log(3/4); row 2: uniform -> log 2
    want = (-math.log(0.75) + math.log(2.0)) / 2
    assert cross_entropy(logits, target).item() == pytest.approx(want, rel=1e-6)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    logits = torch.randn(4, 5, requires_grad=True)
    target = torch.tensor([0, 3, 2, 4])
    cross_entropy(logits, target).backward()
    want = (logits.detach().softmax(-1) - torch.nn.functional.one_hot(target, 5)) / 4
    assert torch.allclose(logits.grad, want, atol=1e-6)


def test_topk_error():
    logits = torch.tensor([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05], [0.2, 0.3, 0.5]])
    target = torch.tensor([2, 0, 0])
    assert topk_error(logits, target, 1) == pytest.approx(2 / 3)
    assert topk_error(logits, target, 2) == pytest.approx(1 / 3)
    assert error_counts(logits, target, 1) == (2, 3)


def test_bad_shapes():
    with pytest.raises(ValueError, match="logits"):
        cross_entropy(torch.randn(4), torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="integer"):
        cross_entropy(torch.randn(2, 3), torch.tensor([0.0, 1.0]))
