"""Binary-complex layers against a float64 complex reference."""

import numpy as np
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

from nbq.nn.complex import ComplexConv2d  # noqa: E402
from nbq.nn.layers import WeightSpec  # noqa: E402


def complex_conv_reference(h: np.ndarray, w: np.ndarray, pad: int) -> np.ndarray:
    """Direct complex cross-correlation (as conv2d) in complex128: h (N, C, H, W), w (O, C, K, K)."""
    n, c, hh, ww = h.shape
    o, _, k, _ = w.shape
    hp = np.pad(h, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, o, hh + 2 * pad - k + 1, ww + 2 * pad - k + 1), dtype=np.complex128)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            patch = hp[:, :, i : i + k, j : j + k]  # (N, C, K, K)
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return out


def _split(t: torch.Tensor, ch: int) -> np.ndarray:
    a = t.detach().numpy()
    return a[:, :ch] + 1j * a[:, ch:]


@pytest.mark.parametrize("real_input", [False, True])
def test_complex_conv_matches_complex128(real_input):
    gen = torch.Generator().manual_seed(0)
    conv = ComplexConv2d(3, 5, 3, padding=1, spec=WeightSpec("float", 32), real_input=real_input).double()
    x = torch.randn(2, 3 if real_input else 6, 7, 7, generator=gen, dtype=torch.float64)
    y = conv(x)
    h = x.numpy() if real_input else _split(x, 3)
    w = conv.weight_re.detach().numpy() + 1j * conv.weight_im.detach().numpy()
    np.testing.assert_allclose(_split(y, 5), complex_conv_reference(h, w, 1), rtol=1e-12, atol=1e-12)


def test_binary_complex_conv_is_four_xnor_convolutions():
    gen = torch.Generator().manual_seed(1)
    conv = ComplexConv2d(4, 3, 3, padding=0).eval()
    x = torch.where(torch.randn(1, 8, 6, 6, generator=gen) >= 0, 1.0, -1.0)
    y = conv(x)
    a, b = conv.deployed_weights()
    assert set(a.unique().tolist()) <= {-1.0, 1.0} and set(b.unique().tolist()) <= {-1.0, 1.0}
    ref = complex_conv_reference(_split(x, 4), a.double().numpy() + 1j * b.double().numpy(), 0)
    np.testing.assert_array_equal(_split(y, 3), ref)
    # every real output is an integer of the parity of K = 2·C·k² (sums of ±1 products)
    assert np.all((y.detach().numpy() - 2 * 4 * 9) % 2 == 0)
    assert conv.acc_bound(1.0).tolist() == [72.0] * 6
