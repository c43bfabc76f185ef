"""L1 (Eq. 1), L2 (Eq. 4) and L3 = L2 + lambda L1 (Eq. 5), against hand-computed values."""
import math

import pytest
import torch

from papers.gpt.loss import IGNORE, LAMBDA, clf_loss, combined_loss, lm_loss, shift_targets


def test_uniform_predictions_give_log_vocab():
    logits = torch.zeros(2, 5, 65)
    targets = torch.randint(0, 65, (2, 5))
    assert lm_loss(logits, targets).item() == pytest.approx(math.log(65), abs=1e-6)  # 4.174 for 65 characters


def test_lm_loss_hand_computed_and_ignore():
    logits = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [5.0, 5.0, 5.0]]])
    targets = torch.tensor([[0, 2, IGNORE]])
    z = math.log(math.exp(2) + 2)
    z2 = math.log(math.e + 2)
    want = ((z - 2.0) + (z2 - 0.0)) / 2              # mean -log P over the two counted tokens
    assert lm_loss(logits, targets).item() == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="shift"):
        lm_loss(logits, targets[:, :2])


def test_clf_loss_hand_computed():
    logits = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    labels = torch.tensor([0, 0])
    want = (math.log(math.e + 1) - 1 + math.log(1 + math.exp(3))) / 2
    assert clf_loss(logits, labels).item() == pytest.approx(want, rel=1e-6)


def test_combined_objective():
    L2, L1 = torch.tensor(0.7), torch.tensor(2.0)
    assert LAMBDA == 0.5                                            # §4.1
    assert combined_loss(L2, L1).item() == pytest.approx(0.7 + 0.5 * 2.0)
    assert combined_loss(L2, L1, lam=0.0).item() == pytest.approx(0.7)
    with pytest.raises(ValueError, match="lambda"):
        combined_loss(L2, L1, lam=-1)


def test_shift_targets_masks_padding():
    idx = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]])
    t = shift_targets(idx, torch.tensor([4, 2]))
    assert t.tolist() == [[2, 3, 4, IGNORE], [6, IGNORE, IGNORE, IGNORE]]
    assert shift_targets(idx).tolist() == [[2, 3, 4, IGNORE], [6, 0, 0, IGNORE]]


def test_lm_loss_gradient_is_softmax_minus_onehot():
    logits = torch.randn(1, 1, 7, requires_grad=True)
    lm_loss(logits, torch.tensor([[3]])).backward()
    want = torch.softmax(logits.detach(), -1)
    want[0, 0, 3] -= 1
    assert torch.allclose(logits.grad, want, atol=1e-6)
