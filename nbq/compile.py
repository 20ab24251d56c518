"""The pipeline: ONNX -> IR -> passes -> hardware plan -> golden vectors -> HLS project [+ RTL] -> (simulation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nbq import ir, reference
from nbq.boards import Board
from nbq.errors import NbqError
from nbq.frontend.onnx_import import import_onnx
from nbq.golden import adversarial_inputs
from nbq.passes import run_passes
from nbq.plan import HardwarePlan, check_engine_option, plan_hardware

Progress = Callable[[str], None]


def lower(path: str | Path) -> ir.Graph:
    """ONNX file -> optimised IR (thresholds folded, ranges proven, layout assigned)."""
    return run_passes(import_onnx(path))


@dataclass
class CompileResult:
    graph: ir.Graph
    plan: HardwarePlan
    out_dir: Path
    files: list[Path]
    golden_inputs: np.ndarray
    golden_outputs: dict[str, np.ndarray]
    csim: object | None = None  # nbq.sim.csim.CsimResult
    cosim: object | None = None  # nbq.sim.cosim.CosimResult


def compile_model(
    model: str | Path,
    board: Board,
    out_dir: str | Path,
    test_inputs: np.ndarray | None = None,
    csim: bool = False,
    progress: Progress | None = None,
    rtl: bool = False,
    cosim: bool = False,
    engine: str = "svpe",
) -> CompileResult:
    """Compile an ONNX model into a Vitis HLS project for `board`.

    test_inputs: float images (N, ...) for the testbench's golden vectors;
    default: random and adversarial integer inputs.
    rtl: also write the streaming SystemVerilog network into out_dir/rtl (cosim implies it).
    engine: "svpe" (shift-add, no DSP) or "vpe" (16-bit multipliers) for power-of-two layers.
    """
    step = progress or (lambda _msg: None)
    check_engine_option(engine)
    step("importing ONNX")
    graph = import_onnx(model)
    step("running passes (ranges, thresholds, layout, fusion, folding)")
    graph = run_passes(graph)
    step("planning the hardware (engines, ROMs, thresholds, cycles)")
    plan = plan_hardware(graph, board, engine)
    step("computing golden vectors with the reference executor")
    if test_inputs is None:
        x_int = adversarial_inputs(graph)
    else:
        x_int = reference.quantize_input(graph, _check_inputs(graph, test_inputs))
    golden = reference.run_int(graph, x_int)
    step("writing the HLS project")
    from nbq.backends.hls import write_hls_project  # after the import so model errors come first

    files = write_hls_project(plan, Path(out_dir), x_int, golden)
    result = CompileResult(graph, plan, Path(out_dir), files, x_int, golden)
    if rtl or cosim:
        from nbq.backends.rtl import write_rtl_project  # after the HLS writer, which swaps out_dir whole

        step("writing the RTL network")
        result.files = sorted(result.files + write_rtl_project(plan, Path(out_dir), x_int, golden))
    if csim:
        from nbq.sim.csim import run_csim

        step("C-simulating (g++)")
        result.csim = run_csim(Path(out_dir))
    if cosim:
        from nbq.sim.cosim import run_cosim

        step("co-simulating the RTL (cocotb + Verilator)")
        result.cosim = run_cosim(Path(out_dir), progress=lambda msg: step(f"  {msg}"))
    return result


def _check_inputs(graph: ir.Graph, x: np.ndarray) -> np.ndarray:
    shape = graph.tensors[graph.inputs[0]].shape
    x = np.asarray(x)
    if x.ndim == len(shape):
        x = x[None]
    if x.shape[1:] != shape and int(np.prod(x.shape[1:])) != int(np.prod(shape)):
        raise NbqError(f"test inputs have shape {x.shape}, the model takes (N, {', '.join(map(str, shape))})")
    return x.reshape((x.shape[0],) + shape)
