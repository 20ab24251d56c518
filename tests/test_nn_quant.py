"""nbq.nn quantizers: codebook, thresholds, reconstructed gradient, α schedule, activations."""

import numpy as np
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

from nbq.formats import Po2Codebook, fit_po2  # noqa: E402
from nbq.nn.quant import (  # noqa: E402
    AlphaSchedule,
    distribution_gap,
    quantize_activation,
    quantize_po2,
    reconstructed_weight,
    sign_ste,
)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_quantized_weights_lie_in_the_codebook(n):
    w = torch.randn(64, 32, 3, 3, generator=torch.Generator().manual_seed(n)) * 0.1
    q = quantize_po2(w, n).numpy()
    assert set(np.unique(q)) <= set(Po2Codebook(n).levels())
    fit = fit_po2(q)
    assert fit is not None and fit.n == n and fit.scale_exp == 0  # enough weights to use every level


def test_authors_rule_uses_the_fixed_fractions_for_n3():
    w = torch.tensor([1.0, 0.15, -0.14, 0.1, 0.07, -0.05, 0.02, 0.019, -0.001])
    assert quantize_po2(w, 3, "authors").tolist() == [1.0, 1.0, -1.0, 0.5, 0.5, -0.25, 0.25, 0.0, 0.0]
    with pytest.raises(ValueError, match="n = 3"):
        quantize_po2(w, 4, "authors")


def test_lsq_rule_preserves_mean_and_spread():
    w = torch.randn(20000, generator=torch.Generator().manual_seed(0)) * 0.05 + 0.01
    gap = distribution_gap(w, 3)
    assert gap["q_std"] == pytest.approx(gap["w_std"], rel=0.1)
    assert gap["q_mean"] == pytest.approx(gap["w_mean"], abs=0.1 * gap["w_std"])


@pytest.mark.parametrize("alpha", [0.5, 0.3, 0.01])
def test_reconstructed_gradient_is_alpha_times_the_gradient_at_w_tilde(alpha):
    gen = torch.Generator().manual_seed(1)
    w = (torch.randn(8, 4, 3, 3, generator=gen) * 0.2).requires_grad_()
    x = torch.randn(2, 4, 6, 6, generator=gen)
    w_tilde = reconstructed_weight(w, 3, alpha)
    w_tilde.retain_grad()
    loss = (torch.nn.functional.conv2d(x, w_tilde) ** 2).sum()
    loss.backward()
    torch.testing.assert_close(w.grad, alpha * w_tilde.grad, rtol=1e-6, atol=0)
    # and the forward value is the mix (1 - α)·Q(W) + α·W
    torch.testing.assert_close(w_tilde, (1 - alpha) * quantize_po2(w, 3) + alpha * w.detach())


def test_alpha_schedule_decays_geometrically_and_ends_at_zero():
    sched = AlphaSchedule(100, start=0.5, floor=1e-3, tail=0.15)
    values = [sched(s) for s in range(100)]
    assert values[0] == 0.5
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert values[84] == pytest.approx(0.5e-3)  # floor given explicitly
    assert values[85:] == [0.0] * 15
    ratios = [values[i + 1] / values[i] for i in range(83)]
    assert max(ratios) == pytest.approx(min(ratios))  # geometric


def test_activation_staircase_rounds_half_to_even_and_passes_gradient_in_range():
    s = 2.0**-3
    x = torch.tensor([-0.3, 0.0, 0.0625, 0.1875, 0.5, 1.875, 1.9, 3.0], requires_grad=True)
    y = quantize_activation(x, s, 0, 15)
    # 0.0625/s = 0.5 -> 0 (even), 0.1875/s = 1.5 -> 2 (even); saturates at 15·s
    assert (y / s).tolist() == [0, 0, 0, 2, 4, 15, 15, 15]
    y.sum().backward()
    assert x.grad.tolist() == [0, 1, 1, 1, 1, 1, 0, 0]


def test_sign_is_plus_one_at_zero_with_a_clipped_straight_through_gradient():
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
    y = sign_ste(x)
    assert y.tolist() == [-1, -1, 1, 1, 1]
    y.sum().backward()
    assert x.grad.tolist() == [0, 1, 1, 1, 0]
