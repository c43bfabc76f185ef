"""shared.attention: the same attention as F.scaled_dot_product_attention; the unfused kernel only for
bf16 training on the CPU at short sequences."""
import torch
import torch.nn.functional as F

from shared.attention import MATH_MAX_KEYS, scaled_dot_product_attention, use_math_kernel


def _qkv(T, dtype, grad):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(2, 3, T, 8, generator=g).to(dtype).requires_grad_(grad) for _ in range(3)]


def test_kernel_choice_depends_on_dtype_gradients_and_length_only():
    q, k, _ = _qkv(16, torch.bfloat16, True)
    assert use_math_kernel(q, k)
    with torch.no_grad():
        assert not use_math_kernel(q, k)
    assert not use_math_kernel(*_qkv(16, torch.float32, True)[:2])
    assert not use_math_kernel(*_qkv(16, torch.bfloat16, False)[:2])
    assert not use_math_kernel(*_qkv(MATH_MAX_KEYS + 1, torch.bfloat16, True)[:2])


def test_equals_sdpa_in_value_and_gradient():
    mask = torch.ones(16, 16, dtype=torch.bool).tril()[None, None] & (torch.arange(16) < 13)[None, None, None]
    for dtype, tol in ((torch.float32, 1e-6), (torch.bfloat16, 2e-2)):
        for kw in (dict(is_causal=True), dict(attn_mask=mask)):
            a, b = _qkv(16, dtype, True), _qkv(16, dtype, True)
            ours = scaled_dot_product_attention(*a, **kw)
            ref = F.scaled_dot_product_attention(*[t.float() for t in b], **kw)
            assert ours.dtype == dtype
            torch.testing.assert_close(ours.float(), ref, atol=tol, rtol=tol)
            ours.float().square().sum().backward()
            ref.square().sum().backward()
            for x, y in zip(a, b):
                torch.testing.assert_close(x.grad.float(), y.grad.float(), atol=5 * tol, rtol=5 * tol)
