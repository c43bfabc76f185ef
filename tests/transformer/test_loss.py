"""§5.3 and §5.4: label-smoothed cross-entropy (hand-computed), Eq. (3), Adam(0.9, 0.98, 1e-9)."""
import math

import pytest
import torch

from papers.transformer.loss import label_smoothed_nll, make_optimizer, noam_lr, reference_loss


def test_hand_computed_case():
    logits = torch.tensor([[[2.0, 0.0, 1.0, 0.5]]])            # V = 4 (index 0 is a word here, pad = -1)
    target = torch.tensor([[2]])
    eps = 0.1
    z = math.log(math.exp(2) + 1 + math.exp(1) + math.exp(0.5))
    logp = [2 - z, 0 - z, 1 - z, 0.5 - z]
    expected = -((1 - eps + eps / 4) * logp[2] + eps / 4 * (logp[0] + logp[1] + logp[3]))
    loss, nll, n = label_smoothed_nll(logits, target, eps, pad_id=-1)
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    assert math.isclose(nll.item(), -logp[2], rel_tol=1e-6) and n.item() == 1


def test_gold_token_gets_one_minus_eps_plus_eps_over_V():
    """d loss / d logits = softmax - q, q = (1 - eps) onehot + eps / V."""
    torch.manual_seed(0)
    V, eps = 7, 0.1
    logits = torch.randn(1, 1, V, requires_grad=True)
    label_smoothed_nll(logits, torch.tensor([[3]]), eps, pad_id=-1)[0].backward()
    q = logits.grad.new_full((V,), eps / V)
    q[3] += 1 - eps
    assert torch.allclose(logits.softmax(-1).detach()[0, 0] - logits.grad[0, 0], q, atol=1e-6)
    assert math.isclose(q[3].item(), 1 - eps + eps / V, rel_tol=1e-6)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.2])
def test_equals_torch_cross_entropy_and_ignores_padding(eps):
    torch.manual_seed(1)
    logits = torch.randn(3, 5, 11)
    target = torch.randint(1, 11, (3, 5))
    target[1, 3:] = 0
    target[2, 1:] = 0
    loss, nll, n = label_smoothed_nll(logits, target, eps, pad_id=0)
    assert torch.allclose(loss, reference_loss(logits, target, eps, 0), atol=1e-6)
    assert n.item() == 15 - 2 - 4
    more = torch.cat([logits, torch.randn(3, 2, 11) * 50], 1)       # extra padded positions change nothing
    assert torch.allclose(label_smoothed_nll(more, torch.cat([target, torch.zeros(3, 2, dtype=torch.long)], 1),
                                             eps)[0], loss, atol=1e-6)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_gradient_equals_autograd_through_torch_cross_entropy(eps):
    """The hand-written backward (softmax - q, in place) equals autograd through F.cross_entropy, padding
    included; in bf16 the gradient comes back in bf16, computed from fp32 log-probabilities."""
    torch.manual_seed(2)
    target = torch.randint(1, 13, (4, 6))
    target[0, 4:] = 0
    target[3, 1:] = 0
    for dtype, atol in ((torch.float32, 1e-7), (torch.bfloat16, 1e-3)):
        x = torch.randn(4, 6, 13).to(dtype).requires_grad_()
        y = x.detach().clone().requires_grad_()
        (2.0 * label_smoothed_nll(x, target, eps, pad_id=0)[0]).backward()
        (2.0 * reference_loss(y, target, eps, 0)).backward()
        assert x.grad.dtype == dtype
        assert torch.allclose(x.grad.float(), y.grad.float(), atol=atol)
        assert (x.grad[3, 1:] == 0).all()                                # padded positions get no gradient


def test_bad_shapes_and_all_padding():
    with pytest.raises(ValueError, match="disagree"):
        label_smoothed_nll(torch.randn(2, 3, 5), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="only padding"):
        label_smoothed_nll(torch.randn(1, 2, 5), torch.zeros(1, 2, dtype=torch.long))


def test_eq3_values():
    assert math.isclose(noam_lr(4000), 512 ** -0.5 * 4000 ** -0.5, rel_tol=1e-12)
    assert abs(noam_lr(4000) - 6.988e-4) < 1e-7
    assert math.isclose(noam_lr(1), 512 ** -0.5 * 4000 ** -1.5, rel_tol=1e-12)
    assert math.isclose(noam_lr(2000), noam_lr(4000) / 2, rel_tol=1e-12)      # linear warmup
    assert math.isclose(noam_lr(16000), noam_lr(4000) / 2, rel_tol=1e-12)     # inverse square root decay
    assert max(range(1, 20000, 7), key=noam_lr) in range(3994, 4007)


def test_optimizer_and_schedule():
    p = torch.nn.Linear(2, 2)
    opt, sched = make_optimizer(p, d_model=512, warmup=4000)
    g = opt.param_groups[0]
    assert g["betas"] == (0.9, 0.98) and g["eps"] == 1e-9 and isinstance(opt, torch.optim.Adam)
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert all(math.isclose(a, noam_lr(i + 1), rel_tol=1e-9) for i, a in enumerate(lrs))
