"""The pipeline: ONNX -> IR -> passes -> hardware plan -> golden vectors -> HLS project [+ RTL] -> (simulation)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nbq import guard, ir, reference
from nbq.board_catalog import Board
from nbq.frontend.onnx_import import import_onnx
from nbq.golden import adversarial_inputs
from nbq.passes import run_passes
from nbq.plan import HardwarePlan, check_engine_option
from nbq.plan.budget import board_budget
from nbq.plan.fit import Fit, fit_folding_file, fold_to_budget, folding_json
from nbq.quantize.options import QuantizeOptions

Progress = Callable[[str], None]
QUANTIZED_ONNX = "quantized.onnx"  # in the project, when compile_model quantized a float model first


def lower(path: str | Path, max_memory: int | None = None, images: int = 0) -> ir.Graph:
    """ONNX file -> optimised IR (thresholds folded, ranges proven, layout assigned, thresholds fused) with the
    folding pass's balanced default folding; `compile_model` folds to the board's budget instead.

    max_memory / images: refuse before the passes when they and `images` reference images need more
    (nbq.guard; None = its default limit)."""
    from nbq.passes.folding import choose_folding

    graph = import_onnx(path, max_memory)
    guard.check_graph(graph, max_memory, images)
    return choose_folding(run_passes(graph))


@contextmanager
def quantized_source(model: str | Path, quantize: QuantizeOptions | None, step: Progress
                     ) -> Iterator[tuple[str | Path, bytes | None]]:
    """(the ONNX file to import, the quantized model's bytes): `model` itself without `quantize`, else the
    model quantized by nbq.quantize into a temporary file that has the float model's file name (so the
    design keeps its name: the HLS top, the reports) and lasts as long as the context."""
    if quantize is None:
        yield model, None
        return
    from nbq.quantize import quantize_model

    data = quantize_model(model, quantize, step).model.SerializeToString()
    with tempfile.TemporaryDirectory(prefix="nbq-quantize-") as tmp:
        path = Path(tmp) / Path(model).name
        path.write_bytes(data)
        yield path, data


def design(model: str | Path, board: Board, engine: str = "svpe", fps: float | None = None,
           budget: dict[str, str] | None = None, folding: str | Path | None = None,
           progress: Progress | None = None, max_memory: int | None = None, golden_images: int | None = 0,
           quantize: QuantizeOptions | None = None) -> Fit:
    """ONNX file -> the folded, planned design for `board` within its budget, with its resource estimate.

    max_memory: bytes the compile may use (None: nbq.guard's default); checked against the estimate for the
    design and `golden_images` reference images (None: the default adversarial set) before anything large
    is allocated.
    quantize: `model` is a float model: quantize it first (nbq.quantize, see docs/quantize.md).
    """
    step = progress or (lambda _msg: None)
    check_engine_option(engine)
    if quantize is not None:
        with quantized_source(model, quantize, step) as (path, _data):
            fit = design(path, board, engine, fps, budget, folding, step, max_memory, golden_images)
        fit.plan.graph.source = str(model)  # later messages name the user's file, not the temporary one
        return fit
    step("importing ONNX")
    graph = import_onnx(model, max_memory)
    guard.check_graph(graph, max_memory, golden_images)
    step("running passes (ranges, thresholds, layout, fusion)")
    graph = run_passes(graph)
    step(f"folding to the {board.name} budget and planning (engines, ROMs, thresholds, cycles)")
    fit = fold_to_budget(graph, board, engine, board_budget(board, budget), fps, progress=step)
    if folding is not None:
        fit = fit_folding_file(folding, fit, board, engine)
    return fit


@dataclass
class CompileResult:
    graph: ir.Graph
    plan: HardwarePlan
    fit: Fit
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
    test_inputs: np.ndarray | str | Path | None = None,
    csim: bool = False,
    progress: Progress | None = None,
    rtl: bool = False,
    cosim: bool = False,
    engine: str = "svpe",
    fps: float | None = None,
    budget: dict[str, str] | None = None,
    folding: str | Path | None = None,
    max_memory: int | None = None,
    quantize: QuantizeOptions | None = None,
) -> CompileResult:
    """Compile an ONNX model into a Vitis HLS project for `board`.

    test_inputs: float images (N, ...) for the testbench's golden vectors, or a .npy file of them (checked by
    nbq.inputs); default: random and adversarial integer inputs.
    rtl: also write the streaming SystemVerilog network into out_dir/rtl (cosim implies it).
    engine: "svpe" (shift-add, no DSP) or "vpe" (16-bit multipliers) for power-of-two layers.
    fps / budget / folding: see `design` (default: maximum throughput within the board's budget).
    max_memory: bytes the compile may use (default: nbq.guard.default_limit()); refused up front above it.
    quantize: `model` is a float model: quantize it first (nbq.quantize) and compile the result, which the
    project holds as quantized.onnx.
    """
    step = progress or (lambda _msg: None)
    from nbq.backends.hls.outputs import check_project_target

    check_project_target(out_dir, model)  # before the work: a folder nbq will refuse fails fast
    source = "test inputs"
    if isinstance(test_inputs, str | Path):  # a .npy file: checked and read (bounded by nbq.inputs) up front
        from nbq.inputs import load_images

        source, test_inputs = str(test_inputs), load_images(test_inputs)
    images = _image_count(test_inputs) if test_inputs is not None else None
    with quantized_source(model, quantize, step) as (onnx_path, quantized):
        fit = design(onnx_path, board, engine, fps, budget, folding, step, max_memory, golden_images=images)
    fit.plan.graph.source = str(model)  # later messages name the user's file, not the temporary one
    plan = fit.plan
    graph = plan.graph
    step("computing golden vectors with the reference executor")
    if test_inputs is None:
        x_int = adversarial_inputs(graph)
    else:
        x_int = reference.quantize_input(graph, _check_inputs(graph, test_inputs, source))
    golden = reference.run_int(graph, x_int)
    step("writing the HLS project")
    from nbq.backends.hls import write_hls_project  # after the import so model errors come first
    from nbq.estimation.html import report_html
    from nbq.estimation.report import REPORT_HTML, REPORT_JSON, report_data

    report = report_data(fit, Path(model).name)
    extra = {"folding.json": folding_json(plan), REPORT_JSON: json.dumps(report, indent=1, sort_keys=True) + "\n",
             REPORT_HTML: report_html(report)}
    if quantized is not None:
        extra[QUANTIZED_ONNX] = quantized
    from nbq.backends.hls.outputs import RTL_SIM_DIRS

    keep = tuple(f"rtl/{d}" for d in RTL_SIM_DIRS) if rtl or cosim else ()  # Verilator builds are reused
    files = write_hls_project(plan, Path(out_dir), x_int, golden, extra_files=extra, keep=keep)
    result = CompileResult(graph, plan, fit, Path(out_dir), files, x_int, golden)
    if rtl or cosim:
        from nbq.backends.rtl import write_rtl_project  # after the HLS writer, which swaps out_dir whole

        step("writing the RTL network")
        result.files = sorted(result.files + write_rtl_project(plan, Path(out_dir), x_int, golden))
    if csim:
        from nbq.sim.csim import check_built, run_csim

        step("C-simulating (g++)")
        result.csim = check_built(run_csim(Path(out_dir)), out_dir)
        record_csim(Path(out_dir), result.csim)
    if cosim:
        from nbq.sim.cosim import run_cosim

        step("co-simulating the RTL (cocotb + Verilator)")
        result.cosim = run_cosim(Path(out_dir), progress=lambda msg: step(f"  {msg}"))
        record_cosim(Path(out_dir), result.cosim)
    return result


def record_csim(out_dir: Path, res) -> None:
    from nbq.estimation.report import record_verification

    record_verification(out_dir, "csim", {"passed": bool(res.passed), "images": int(res.images),
                                          "mismatches": int(res.mismatches)})


def record_cosim(out_dir: Path, res) -> None:
    from nbq.estimation.report import record_verification

    record_verification(out_dir, "cosim", {
        "passed": bool(res.passed), "images": int(res.images), "mismatches": int(res.mismatches),
        "cycles_per_image": round(float(res.cycles_per_image), 1), "model_cycles": int(res.model_cycles),
        "frames_per_s": round(float(res.frames_per_s), 1)})


def _image_count(x) -> int:
    """Images in `x` for the memory guard, before the model's input shape is known: at most its first axis."""
    return max(int(np.shape(x)[0]), 1) if np.ndim(x) else 1


def _check_inputs(graph: ir.Graph, x: np.ndarray, source: str = "test inputs") -> np.ndarray:
    from nbq.inputs import check_images  # real, finite, numeric, of the model's shape: as a .npy file is

    return check_images(x, graph.tensors[graph.inputs[0]].shape, source)
