"""Memory of one training step at batch 100: standard vs memory-efficient, same accounting."""

import math

import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

from nbq.nn import QuantConfig, build_model  # noqa: E402
from nbq.nn.edge import EdgeAdam, compare_step_memory, make_memory_efficient, measure_training_step  # noqa: E402
from nbq.nn.edge.memory import saved_tensor_bytes  # noqa: E402
from nbq.nn.trainer import training_loss  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread: on a busy machine oversubscribed threads make these steps ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _ratio(mem):
    return mem["standard"].total / mem["memory-efficient"].total


def test_mlp_reduction_at_batch_100():
    mem = compare_step_memory("mlp", (1, 28, 28), batch=100)  # 784-256-256-10
    assert _ratio(mem) >= 2.7
    std, eff = mem["standard"], mem["memory-efficient"]
    assert eff.weights <= 0.51 * std.weights  # float16 latent weights (BN statistics stay float32)
    assert eff.optimizer * 2 <= std.optimizer  # float16 Adam moments
    assert eff.gradients * 12 <= std.gradients  # 2 bits per binary weight gradient (+ float16 biases)
    assert eff.saved * 10 <= std.saved


def test_reduced_cnv_reduction_at_batch_100():
    mem = compare_step_memory("cnv", (3, 32, 32), width=0.25, batch=100)
    assert _ratio(mem) >= 4.0


def test_saved_bytes_are_one_bit_per_activation():
    """Efficient MLP: exactly 1 byte per input code, 3 packed bits per hidden unit
    (BN sign(x̂), sign mask, the next layer's input sign), σ per channel, plus the loss's own."""
    model = make_memory_efficient(build_model("mlp", QuantConfig.binary(8), (1, 28, 28), seed=0))
    x, y = torch.rand(100, 1, 28, 28), torch.randint(0, 10, (100,))
    logits = torch.zeros(100, 10, requires_grad=True)
    _, loss_bytes = saved_tensor_bytes(lambda: torch.nn.functional.cross_entropy(logits * 0.5, y))
    mem = measure_training_step(model, EdgeAdam(model.parameters()), x, y)
    hidden = 2 * (3 * math.ceil(100 * 256 / 8) + 256 * 4)
    assert mem.saved == 100 * 784 + hidden + loss_bytes
    # the same model trained the standard way keeps 32-bit copies: input, BN input, sign input, binarized weights
    std_model = build_model("mlp", QuantConfig.binary(8), (1, 28, 28), seed=0)
    params = {(p.untyped_storage().data_ptr(), p.untyped_storage().nbytes()) for p in std_model.parameters()}
    _, std_saved = saved_tensor_bytes(lambda: training_loss(std_model, x, y), params)
    assert std_saved > 10 * mem.saved
