"""Memory-efficient binary training: every backward equals a float64 reference of its formula,
the ℓ1 batch-norm derivation matches gradcheck, and saved activations are 1 bit each."""

import math

import numpy as np
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from nbq.nn import QuantConfig, build_model  # noqa: E402
from nbq.nn.edge import (  # noqa: E402
    EdgeAdam,
    EdgeConv2d,
    EdgeLinear,
    EdgeMaxPool2d,
    EdgeSign,
    GradFormat,
    L1BatchNorm,
    make_memory_efficient,
    pack_bits,
    po2_gradient,
    unpack_bits,
)
from nbq.nn.edge.functions import L1NormFn  # noqa: E402
from nbq.nn.edge.memory import saved_tensor_bytes  # noqa: E402
from nbq.nn.layers import QConv2d, QLinear, WeightSpec  # noqa: E402

BINARY = WeightSpec("binary", 1)



@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread: on a busy machine oversubscribed threads make these steps ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _signs(shape, seed):
    return torch.where(torch.rand(shape, generator=_gen(seed)) < 0.5, -1.0, 1.0)


def _grid_grad(shape, seed, zero_frac=0.3):
    """Gradients k·2^-12, |k| < 2^11: exact in float16, and every sum of them is exact in float32."""
    g = _gen(seed)
    k = torch.randint(-2047, 2048, shape, generator=g).double()
    return k * (torch.rand(shape, generator=g) >= zero_frac) * 2.0**-12


def _fp16(t):
    return t.half().double()


def _sign0(t):
    return torch.sign(t)  # sign(0) = 0


def _ref_po2(g, emin=-8, emax=7):
    """numpy float64 reference of the power-of-two gradient format."""
    g = np.asarray(g, np.float64)
    out = np.zeros_like(g)
    nz = g != 0
    if not nz.any():
        return out
    shift = int(np.round(np.log2(np.abs(g).max()))) - emax
    e = np.clip(np.round(np.log2(np.abs(g[nz]))) - shift, emin, emax) + shift
    out[nz] = np.sign(g[nz]) * 2.0**e
    return out


def _saved(fn, module=None):
    exclude = set() if module is None else {(p.untyped_storage().data_ptr(), p.untyped_storage().nbytes())
                                            for p in [*module.parameters(), *module.buffers()]}
    return saved_tensor_bytes(fn, exclude)


# ------------------------------------------------------------------ packing


@pytest.mark.parametrize("n", [1, 7, 8, 9, 1000, 3701])
def test_pack_roundtrip_and_one_bit_per_value(n):
    mask = torch.rand(n, generator=_gen(n)) < 0.5
    packed = pack_bits(mask)
    assert packed.dtype == torch.uint8 and packed.untyped_storage().nbytes() == math.ceil(n / 8)
    assert torch.equal(unpack_bits(packed, (n,)), mask)
    assert np.array_equal(packed.numpy(), np.packbits(mask.numpy()))  # numpy's layout: MSB first


# ------------------------------------------------------- binary weight layers


def _edge_linear(fin, fout, seed, binary_input=True, bias=False, fmt=None, in_scale=1.0):
    torch.manual_seed(seed)
    src = QLinear(fin, fout, bias=bias, spec=BINARY, in_scale=in_scale)
    return EdgeLinear(src, binary_input, fmt).train()


@pytest.mark.parametrize("po2", [False, True])
def test_linear_backward_equals_float64_reference(po2):
    layer = _edge_linear(37, 11, 0, bias=True, fmt=GradFormat(po2=po2))
    x = _signs((100, 37), 1).requires_grad_()
    gy = _grid_grad((100, 11), 2)
    layer(x).backward(gy.float())
    # reference: g in the format, ∂X = fp16(g·sign(W)), ∂W = N^-1/2·sign(sign(X)ᵀ·g), ∂b = Σ g
    g = torch.from_numpy(_ref_po2(gy.numpy())) if po2 else _fp16(gy)
    wb = torch.where(layer.weight >= 0, 1.0, -1.0).double()
    assert torch.equal(x.grad.double(), _fp16(g @ wb))
    assert torch.equal(layer.weight.packed_grad.dense(torch.float64), 37**-0.5 * _sign0(g.t() @ x.detach().double()))
    assert layer.weight.grad is None and layer.weight.packed_grad.nbytes == 2 * math.ceil(37 * 11 / 8)
    assert torch.equal(layer.bias.grad, g.sum(0).half())


def test_first_layer_uses_input_codes():
    layer = _edge_linear(20, 6, 3, binary_input=False, in_scale=2.0**-4)
    codes = torch.randint(0, 16, (50, 20), generator=_gen(4)).double()
    gy = _grid_grad((50, 6), 5)
    layer(codes.float() * 2.0**-4).backward(gy.float())
    assert torch.equal(layer.weight.packed_grad.dense(torch.float64), 20**-0.5 * _sign0(_fp16(gy).t() @ codes))
    (_, saved) = _saved(lambda: layer(codes.float() * 2.0**-4), layer)
    assert saved == 50 * 20  # one byte per 4-bit input code


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 0)])
def test_conv_backward_equals_float64_reference(stride, padding):
    torch.manual_seed(6)
    layer = EdgeConv2d(QConv2d(5, 4, 3, stride, padding, spec=BINARY, in_scale=1.0), True).train()
    x = _signs((3, 5, 9, 9), 7).requires_grad_()
    y = layer(x)
    gy = _grid_grad(y.shape, 8)
    y.backward(gy.float())
    # reference through unfold: y = W·cols, ∂cols = Wᵀ·∂Y (folded back), ∂W sums = Σ_n ∂Y_n·cols_nᵀ
    g = _fp16(gy).flatten(2)
    wb = torch.where(layer.weight >= 0, 1.0, -1.0).double().flatten(1)
    cols = F.unfold(x.detach().double(), 3, padding=padding, stride=stride)
    grad_x = F.fold(wb.t() @ g, (9, 9), 3, padding=padding, stride=stride)
    sums = torch.einsum("nol,nkl->ok", g, cols).view(layer.weight.shape)
    assert torch.equal(x.grad.double(), _fp16(grad_x))
    assert torch.equal(layer.weight.packed_grad.dense(torch.float64), (5 * 9) ** -0.5 * _sign0(sums))


def test_po2_gradient_format():
    g = torch.from_numpy(_grid_grad((400,), 9).numpy() * np.exp(np.linspace(-12, 3, 400)))
    q = po2_gradient(g)
    assert torch.equal(q.double(), torch.from_numpy(_ref_po2(g.numpy())))
    nz = q[q != 0]
    e = torch.log2(nz.abs())
    assert torch.equal(e, torch.round(e)) and int(e.max() - e.min()) <= 15  # one shift, 16 exponents
    assert torch.equal(q == 0, g == 0) and torch.equal(torch.sign(q), torch.sign(g).float())


def test_packed_gradients_do_not_accumulate_silently():
    layer = _edge_linear(8, 3, 10)
    x = _signs((4, 8), 11)
    layer(x).sum().backward()
    with pytest.raises(RuntimeError, match="zero_grad"):
        layer(x).sum().backward()


# ---------------------------------------------------------------- ℓ1 batch norm


def _l1_stats(x):
    dims = (0,) + tuple(range(2, x.dim()))
    shape = (1, -1) + (1,) * (x.dim() - 2)
    mu = x.mean(dims)
    return mu, (x - mu.view(shape)).abs().mean(dims) + 1e-5


def _l1_forward_f64(x, beta):
    """The ℓ1 batch norm written with differentiable torch ops (float64)."""
    mu, sigma = _l1_stats(x)
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return (x - mu.view(shape)) / sigma.view(shape) + beta.view(shape)


def _l1_backward_ref(x, g, approximate):
    """float64 reference of the documented backward: exact (mean(g·x̂)) or efficient (mean(g·s))."""
    dims = (0,) + tuple(range(2, x.dim()))
    shape = (1, -1) + (1,) * (x.dim() - 2)
    mu, sigma = _l1_stats(x)
    xhat = (x - mu.view(shape)) / sigma.view(shape)
    s = torch.where(xhat >= 0, 1.0, -1.0).double()
    proj = (g * (s if approximate else xhat)).mean(dims, keepdim=True)
    return (g - g.mean(dims, keepdim=True) - (s - s.mean(dims, keepdim=True)) * proj) / sigma.view(shape)


class _ExactL1(torch.autograd.Function):
    """The derived exact backward, in float64, to check the derivation against gradcheck."""

    @staticmethod
    def forward(ctx, x, beta):
        ctx.save_for_backward(x)
        with torch.no_grad():
            return _l1_forward_f64(x, beta)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _l1_backward_ref(x, g, approximate=False), g.sum((0,) + tuple(range(2, g.dim())))


def _efficient_l1(x, beta):
    mu, sigma = _l1_stats(x.detach())
    return L1NormFn.apply(x, beta, mu, sigma)


@pytest.mark.parametrize("shape", [(12, 3), (4, 3, 2, 3)])
def test_l1_batchnorm_derivation_passes_gradcheck(shape):
    x = torch.randn(shape, generator=_gen(12), dtype=torch.float64, requires_grad=True)
    beta = torch.randn(shape[1], generator=_gen(13), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_ExactL1.apply, (x, beta), eps=1e-6, atol=1e-8)
    # and the derived formula is autograd's own gradient of the plain forward
    g = torch.randn(shape, generator=_gen(14), dtype=torch.float64)
    (auto,) = torch.autograd.grad(_l1_forward_f64(x, beta), x, g)
    torch.testing.assert_close(_l1_backward_ref(x.detach(), g, approximate=False), auto, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(12, 3), (4, 3, 2, 3)])
def test_efficient_l1_backward_equals_float64_reference(shape):
    x = (torch.randn(shape, generator=_gen(15)) * 3 + 1).requires_grad_()
    beta = torch.zeros(shape[1], dtype=torch.float16, requires_grad=True)
    gy = _grid_grad(shape, 16, zero_frac=0.2)
    _efficient_l1(x, beta).backward(gy.float())
    ref = _l1_backward_ref(x.detach().double(), gy, approximate=True)
    torch.testing.assert_close(x.grad.double(), _fp16(ref), rtol=2**-10, atol=2**-24)  # ≤ 1 float16 ulp
    assert torch.equal(beta.grad, gy.sum((0,) + tuple(range(2, len(shape)))).half())


def test_efficient_l1_backward_is_exact_where_abs_xhat_is_one():
    """With two-valued balanced channels |x̂| = 1, so sign(x̂) = x̂: gradcheck the efficient backward itself."""
    s = torch.tensor([1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0], dtype=torch.float64)[:, None]
    x = (torch.tensor([[0.5, -2.0, 3.0]], dtype=torch.float64) + s * torch.tensor([[1.5, 0.25, 4.0]],
                                                                                dtype=torch.float64))
    x.requires_grad_()
    beta = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    # float16 gradients: compare within float16 rounding
    assert torch.autograd.gradcheck(_efficient_l1, (x, beta), eps=1e-6, atol=2e-3, rtol=2e-3)


def test_l1_batchnorm_module_saves_signs_and_channel_scalars():
    bn = L1BatchNorm(37).train()
    x = torch.randn(100, 37, generator=_gen(17), requires_grad=True)
    _, saved = _saved(lambda: bn(x), bn)
    assert saved == math.ceil(100 * 37 / 8) + 37 * 4  # sign(x̂) bits + σ (float32) per channel
    mu, l1 = x.detach().mean(0), (x.detach() - x.detach().mean(0)).abs().mean(0)
    torch.testing.assert_close(bn.running_mean, 0.1 * mu)
    torch.testing.assert_close(bn.running_l1, 0.9 + 0.1 * l1)


def test_dead_channel_gradients_stay_finite():
    """A constant channel has σ = ε: its gradient is amplified by at most 1/ε and float16 saturates, never inf."""
    bn = L1BatchNorm(2).train()
    x = torch.cat([torch.full((64, 1), 7.0), torch.randn(64, 1, generator=_gen(30))], 1).requires_grad_()
    y = bn(x)
    y.backward(torch.randn(64, 2, generator=_gen(31)) * 1e3)
    assert torch.isfinite(x.grad).all() and torch.isfinite(bn.bias.grad).all()
    assert 0 < x.grad[:, 0].abs().max() <= 65504
    assert torch.equal(GradFormat()(torch.tensor([1e6, -1e9, 3.0])), torch.tensor([65504, -65504, 3.0]).half())


# ------------------------------------------------------------- sign, pooling


def test_sign_backward_and_one_bit_mask():
    act = EdgeSign().train()
    x = (torch.randn(100, 37, generator=_gen(18)) * 1.5).requires_grad_()
    gy = _grid_grad((100, 37), 19)
    y, saved = _saved(lambda: act(x))
    assert saved == math.ceil(3700 / 8)
    assert torch.equal(y, torch.where(x >= 0, 1.0, -1.0))
    y.backward(gy.float())
    assert torch.equal(x.grad.double(), gy * (x.detach().abs() <= 1))


def test_binary_maxpool_matches_torch_and_saves_one_bit():
    pool = EdgeMaxPool2d(torch.nn.MaxPool2d(2)).train()
    x = _signs((5, 3, 7, 8), 20).requires_grad_()
    gy = _grid_grad((5, 3, 3, 4), 21)
    y, saved = _saved(lambda: pool(x))
    assert saved == math.ceil(x.numel() / 8)
    y.backward(gy.float())
    x2 = x.detach().clone().requires_grad_()
    F.max_pool2d(x2, 2).backward(gy.float())
    assert torch.equal(y, F.max_pool2d(x.detach(), 2)) and torch.equal(x.grad, x2.grad)


# ------------------------------------------------------------------ optimizer


def test_edge_adam_follows_adam_within_float16():
    torch.manual_seed(22)
    w32 = torch.nn.Parameter(torch.randn(64) * 0.3)
    w16 = torch.nn.Parameter(w32.detach().half())
    ref, opt = torch.optim.Adam([w32], lr=1e-2), EdgeAdam([w16], lr=1e-2)
    for step in range(5):
        g = torch.randn(64, generator=_gen(23 + step)) * 1e-3
        w32.grad, w16.grad = g.clone(), g.half()
        ref.step()
        opt.step()
    torch.testing.assert_close(w16.float(), w32.detach(), rtol=0, atol=2e-3)
    assert all(t.dtype == torch.float16 for s in opt.state.values() for t in s.values() if torch.is_tensor(t))


def test_converted_model_is_all_edge_layers():
    model = make_memory_efficient(build_model("cnv", QuantConfig.binary(), (1, 8, 8), width=0.125, seed=0))
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"EdgeConv2d", "EdgeLinear", "L1BatchNorm", "EdgeSign", "EdgeMaxPool2d"} <= kinds
    assert not kinds & {"QConv2d", "QLinear", "QBatchNorm", "SignAct", "MaxPool2d"}
    assert all(p.dtype == torch.float16 for p in model.parameters())
    assert all(not hasattr(m, "weight") for m in model.modules() if isinstance(m, L1BatchNorm))  # no γ
