"""`nbq` command line: parse arguments, call the library, print results."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from nbq.console import cell, error_line, shown, visible
from nbq.distribution import __version__, install_hint
from nbq.errors import NbqError, ToolFailure
from nbq.plan.budget import parse_budget

EXIT_OK, EXIT_FAIL, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_SIGPIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose pipe closed
WAVES_DEFAULT_IMAGES = 8


def _console():
    from nbq.console import make_console

    return make_console()


# ------------------------------------------------------------------ boards


def cmd_boards(args: argparse.Namespace) -> int:
    from rich.table import Table

    from nbq.board_catalog import known_boards

    table = Table(title="Boards (boards/*.yaml; --board also takes a path to a YAML file)")
    for col in ("name", "part", "platform", "clock", "flow", "LUT", "FF", "DSP", "BRAM36", "URAM"):
        table.add_column(col)
    for b in known_boards():
        r = b.resources
        table.add_row(cell(b.name), cell(b.part), cell(b.platform), f"{b.clock_mhz:g} MHz", cell(b.flow),
                      *(f"{r.get(k, 0):,}" for k in ("lut", "ff", "dsp", "bram36", "uram")))
    _console().print(table)
    return EXIT_OK


# ----------------------------------------------------------------- compile


def _layer_table(graph, title: str):
    from rich.table import Table

    from nbq import ir

    table = Table(title=cell(title, 2 * 60))
    for col in ("layer", "op", "input", "output", "weight format", "weight count", "weight bits total", "out type"):
        table.add_column(col, justify="right" if col in ("weight count", "weight bits total") else "left")
    for layer in graph.layers:
        src, dst = graph.tensors[layer.inputs[0]], graph.tensors[layer.output]
        if isinstance(layer, ir.Conv | ir.Dense):
            w = layer.weights
            weight_cells = (w.format_str, f"{w.ints.size:,}", f"{w.ints.size * w.bits:,}")
        else:
            weight_cells = ("", "", "")
        table.add_row(cell(layer.name), layer.op, "×".join(map(str, src.shape)), "×".join(map(str, dst.shape)),
                      *weight_cells, dst.type_str())
    return table


def cmd_compile(args: argparse.Namespace) -> int:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    from nbq.board_catalog import load_board

    board = load_board(args.board)  # before the compiler's (slow) imports: a bad board fails at once
    if args.test_input is not None:  # the header now, so a bad file fails before seconds of compiling; its data later
        from nbq.inputs import check_file

        if args.test_data is not None:
            raise NbqError("--test-input and --test-data both give golden images; pass one (--test-data has labels)")
        check_file(args.test_input)
    if args.labels is not None and args.test_data is None:
        raise NbqError("--labels goes with --test-data X.npy (the images they label)")
    quantize = _quantize_options(args)
    from nbq import api

    console = _console()
    start = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn(),
                  console=console, transient=True, disable=args.quiet) as progress:
        task = progress.add_task("starting", total=None)

        def step(msg: str) -> None:  # messages hold layer and board names: never markup
            progress.update(task, description=visible(msg))
            if not args.quiet:
                console.log(visible(msg), markup=False)

        project = api.compile(args.model, board, args.output, engine=args.engine, fps=args.fps,
                              budget=parse_budget(args.budget), rtl=args.rtl or args.cosim, folding=args.folding,
                              test_data=args.test_data, labels=args.labels, images=args.images,
                              test_input=args.test_input, max_memory=_max_memory(args), quantize=quantize,
                              progress=step)
    result = project.result
    elapsed = time.perf_counter() - start
    if not args.quiet:
        console.print(_layer_table(result.graph, f"{Path(args.model).name} → {board.name}"))
        _print_files(console, result.files, args.output, args.verbose)
    g = result.graph
    for note in [] if args.quiet else g.meta.get("import_notes", []):
        console.print(f"note: {visible(note)}", markup=False)
    console.print(Text.assemble(  # Text, not markup: user strings here are not followed by a tag
        ("compiled", "bold"), f" {len(g.layers)} layers, {g.weight_count:,} weights "
        f"({g.weight_bits / 8 / 1024:,.1f} KiB "
        f"packed), {len(result.files)} files in {visible(args.output)} for {visible(board.name)} "
        f"({visible(board.part)}) in {elapsed:.2f} s"))
    perf = result.plan
    console.print(f"design: {perf.ii_cycles:,} cycles/image, {perf.frames_per_s:,.0f} frames/s at "
                  f"{perf.clock_mhz:g} MHz; {_usage_line(result.fit)} (estimate; report.html)")
    status = EXIT_OK
    if args.csim:
        with console.status("C-simulating (g++)"):
            status = max(status, _report_csim(console, project.csim()))
    if args.cosim:
        status = max(status, _cosim_run(console, project, None, None, None, False))
    return status


def _print_files(console, files: list[str], out: str, verbose: bool) -> None:
    """The generated files: the whole list with --verbose, else one line saying what the folder holds."""
    from rich.table import Table

    if verbose:
        table = Table(title=cell(f"Generated project: {out}", 2 * 60))
        table.add_column("file")
        for f in files:
            table.add_row(cell(f, 2 * 60))
        console.print(table)
        return
    parts = ["HLS project", *(["RTL network (rtl/)"] if any(str(f).startswith("rtl/") for f in files) else []),
             "report.html"]
    console.print(f"wrote {len(files)} files to {visible(out)}: {', '.join(parts)} (`nbq -v compile ...` lists them)",
                  markup=False)


def _usage_line(fit) -> str:
    from nbq.plan.budget import NAMES

    usage = fit.usage()
    return ", ".join(f"{NAMES[k]} {getattr(fit.resources, k):,.0f} ({100 * usage[k]:.0f} % of budget)"
                     for k in ("lut", "ff", "dsp", "bram36", "uram") if fit.budget.as_dict()[k] > 0)


def cmd_estimate(args: argparse.Namespace) -> int:
    from rich.table import Table

    from nbq.board_catalog import load_board

    board = load_board(args.board)  # before the compiler's (slow) imports: a bad board fails at once
    from nbq import api

    quantize = _quantize_options(args)
    data = api.estimate(args.model, board, args.engine, args.fps, parse_budget(args.budget), args.folding,
                        max_memory=_max_memory(args), quantize=quantize).data
    if args.json:
        print(json.dumps(data, indent=1, sort_keys=True))
        return EXIT_OK
    console = _console()
    table = Table(title=cell(f"{Path(args.model).name} on {board.name}: estimate (nbq model calibrated on Yosys)",
                             3 * 60))
    for col in ("layer", "op", "engine", "PE×SIMD", "cycles", "ROM", "LUT", "FF", "DSP", "BRAM36", "URAM"):
        table.add_column(col, justify="right" if col in ("cycles", "LUT", "FF", "DSP", "BRAM36", "URAM") else "left")
    for la in data["layers"]:
        res = la["resources"] or {}
        rom = la.get("rom")
        table.add_row(cell(la["name"]), la["op"], la.get("engine", ""),
                      f"{la['pe']}×{la['simd']}" if "pe" in la else "", f"{la['cycles']:,}",
                      f"{rom['depth']}×{rom['width']} {rom['memory']}" if rom else "",
                      *(f"{res.get(k, 0):,.0f}" if k != "bram36" else f"{res.get(k, 0):,.1f}"
                        for k in ("lut", "ff", "dsp", "bram36", "uram")))
    console.print(table, markup=False)
    totals = Table(title="totals against the budget")
    for col in ("", "LUT", "FF", "DSP", "BRAM36", "URAM"):
        totals.add_column(col, justify="right")
    keys = ("lut", "ff", "dsp", "bram36", "uram")
    totals.add_row("estimate", *(f"{data['total'][k]:,.0f}" for k in keys))
    totals.add_row("budget", *(f"{data['budget'][k]:,.0f}" for k in keys))
    totals.add_row("use", *(f"{100 * data['usage'][k]:.1f} %" if data["usage"][k] is not None else "-" for k in keys))
    console.print(totals)
    p = data["performance"]
    console.print(f"{p['ii_cycles']:,} cycles/image (slowest: {visible(p['slowest'])}), "
                  f"{p['frames_per_s']:,.0f} frames/s, "
                  f"{p['gops']:,.1f} GOP/s at {p['clock_mhz']:g} MHz ({data['mode']})", markup=False)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from nbq.estimation.report import read_report, write_report
    from nbq.estimation.vendor import vendor_reports

    out = Path(args.project)
    data = read_report(out)
    if data is None:
        raise NbqError(f"{out}: no report.json from nbq; run `nbq compile` first")
    measured = vendor_reports(out)
    data["measured"] = measured
    write_report(out, data)
    console = _console()
    keys = ("lut", "ff", "dsp", "bram36", "uram")
    console.print(f"{visible(data['model'])} on {visible(data['board'])}: "
                  f"{data['performance']['ii_cycles']:,} cycles/image, "
                  f"{data['performance']['frames_per_s']:,.0f} frames/s", markup=False)
    console.print("nbq estimate: " + ", ".join(f"{k} {data['total'][k]:,.0f}" for k in keys), markup=False)
    if not measured:
        console.print("no Vitis HLS csynth.xml or Vivado utilization report in the project yet "
                      "(run `nbq build OUT --target csynth`, then `nbq report OUT` again)")
    for source, res in measured.items():
        console.print(f"{visible(source)}: " + ", ".join(f"{k} {res.get(k, 0):,.0f}" for k in keys), markup=False)
    console.print(f"written: {visible(out / 'report.html')}", markup=False)
    return EXIT_OK


def _report_csim(console, run) -> int:
    """Print a C-simulation's verdict (and, with labelled golden images, the accuracy line); its exit code."""
    res = run.result
    if res.passed:
        console.print(f"[green]C-simulation: PASS[/green] — {res.images} images bit-exact against the reference "
                      f"({res.seconds:.1f} s)")
    else:
        console.print(f"[red]C-simulation: FAIL[/red] — {res.mismatches} mismatching values over {res.images} images")
        for problem in res.problems:
            console.print(f"  {visible(problem)}", markup=False)
        for line in res.first_mismatches[:20]:
            console.print(f"  {visible(line)}", markup=False)
    _accuracy_line(console, run)
    return EXIT_OK if res.passed else EXIT_FAIL


def _accuracy_line(console, run) -> None:
    if run.accuracy.reference_top1 is not None:
        console.print(visible(run.line()), markup=False)


def _report_cosim(console, run) -> int:
    res = run.result
    color = "green" if res.passed else "red"
    console.print(f"[{color}]RTL co-simulation: {shown(res.summary(), 1000)}[/{color}]")
    if res.waves is not None and Path(res.waves).is_file():
        console.print(f"waveforms: {visible(res.waves)} ({Path(res.waves).stat().st_size / 2**20:,.1f} MiB, VCD)",
                      markup=False)
    for line in getattr(res, "first_mismatches", [])[:20]:
        console.print(f"  {visible(line)}", markup=False)
    _accuracy_line(console, run)
    return EXIT_OK if res.passed else EXIT_FAIL


def _cosim_run(console, project, images, test_data, labels, waves: bool) -> int:
    with console.status("co-simulating the RTL (cocotb + Verilator)") as status:
        run = project.cosim(images, test_data, labels, waves=waves,
                            progress=lambda msg: (status.update(cell(msg)), console.log(visible(msg), markup=False)))
    return _report_cosim(console, run)


def _sim_data_args(args: argparse.Namespace) -> None:
    if args.labels is not None and args.test_data is None:
        raise NbqError("--labels goes with --test-data X.npy (the images they label)")


def cmd_cosim(args: argparse.Namespace) -> int:
    from nbq import api

    _sim_data_args(args)
    project = api.open_project(args.project)
    if args.test_data is None and not (project.path / "rtl").is_dir():
        raise NbqError(f"{project.path}: no RTL in this project; run `nbq compile ... --rtl` first")
    images = args.images
    if args.waves and images is None:
        images = WAVES_DEFAULT_IMAGES  # a VCD of every signal grows ~7 MB per image of the demo model
    if images is not None and images < 1:
        raise NbqError(f"--images must be at least 1, got {images}")
    return _cosim_run(_console(), project, images, args.test_data, args.labels, args.waves)


def cmd_csim(args: argparse.Namespace) -> int:
    from nbq import api

    _sim_data_args(args)
    project = api.open_project(args.project)
    console = _console()
    with console.status("C-simulating (g++)"):
        run = project.csim(args.images, args.test_data, args.labels)
    return _report_csim(console, run)


# ---------------------------------------------------------------- quantize


def _quantize_options(args: argparse.Namespace, labels: bool = False):
    """QuantizeOptions from `nbq quantize` / `nbq compile --quantize` arguments (None: no quantization)."""
    weights = getattr(args, "weights", None) or getattr(args, "quantize", None)
    if weights is None:
        if getattr(args, "calibrate", None) is not None:
            raise NbqError("--calibrate is for a float model: add --quantize po2:N (or int:N)")
        return None
    if args.calibrate is None:
        raise NbqError("quantizing a float model needs --calibrate X.npy (images to choose the activation scales)")
    from nbq.inputs import check_file
    from nbq.quantize import QuantizeOptions, parse_weight_spec

    for path in (args.calibrate, *((args.labels, args.test_data) if labels else ())):
        if path is not None:
            check_file(path)  # the header now: a bad file fails before the model is read
    return QuantizeOptions(calibrate=Path(args.calibrate), weights=parse_weight_spec(weights),
                           activations=args.activations, input_bits=args.input_bits, percentile=args.percentile,
                           labels=Path(args.labels) if labels and args.labels else None,
                           test_data=Path(args.test_data) if labels and args.test_data else None)


def cmd_quantize(args: argparse.Namespace) -> int:
    options = _quantize_options(args, labels=True)
    from nbq.quantize import quantize_to_file

    def step(msg: str) -> None:
        print(visible(msg), flush=True)

    result = quantize_to_file(args.model, args.output, options, step)
    print(f"quantized {result.layers} layers ({options.weights} weights, {result.per_channel} with per-channel "
          f"factors in the thresholds), {result.points} activation quantizers; written {visible(args.output)}")
    acc = result.accuracy
    if acc is not None:
        print(f"float model:     top-1 {100 * acc.float_top1:.2f} % on {acc.images} images")
        print(f"quantized model: top-1 {100 * acc.quant_top1:.2f} % ({100 * (acc.quant_top1 - acc.float_top1):+.2f} "
              "points)")
        print(f"agreement:       {100 * acc.agreement:.2f} % of the images get the same class from both")
    return EXIT_OK


def _add_quantize_options(p: argparse.ArgumentParser, flag: str) -> None:
    from nbq.quantize.options import DEFAULT_PERCENTILE

    if flag == "--weights":
        p.add_argument("--weights", default="po2:4", metavar="po2:N|int:N",
                       help="weight format: N-bit power-of-two codes (N = 1..6, 1 = binary) or N-bit integers "
                            "[po2:4]")
    else:
        p.add_argument("--quantize", metavar="po2:N|int:N",
                       help="MODEL is a float model: quantize it first (as `nbq quantize`) with this weight "
                            "format (`nbq compile`: the project holds quantized.onnx)")
    p.add_argument("--calibrate", metavar="X.npy", help="calibration images (N, ...), a .npy file (at most 4096)")
    p.add_argument("--activations", type=int, default=8, metavar="K", help="bits of every activation [8]")
    p.add_argument("--input-bits", type=int, default=8, metavar="K", help="bits of the graph input quantizer [8]")
    p.add_argument("--percentile", type=float, default=DEFAULT_PERCENTILE, metavar="P",
                   help=f"an activation's range covers P %% of its calibration |values| [{DEFAULT_PERCENTILE:g}]")


# ------------------------------------------------------------------- build


def cmd_build(args: argparse.Namespace) -> int:
    from nbq.build import build_target, check_target
    from nbq.console import spinner

    check_target(Path(args.project), args.target)  # a missing tool is the one error line, before any spinner
    with spinner(f"make {args.target} in {args.project}") as status:
        code = build_target(Path(args.project), args.target, echo=status.echo)
        if code != 0:
            status.outcome = f"failed (exit code {code})"
    if code != 0:
        print(f"nbq: make {args.target} failed (exit code {code})", file=sys.stderr)
    return EXIT_OK if code == 0 else EXIT_FAIL


# --------------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    from nbq.compare import compare_with_onnxruntime
    from nbq.inputs import check_file
    from nbq.run_summary import summarize

    check_file(args.input)  # the headers before the model is lowered; the shapes once the model is known
    if args.labels is not None:
        check_file(args.labels)
    report = compare_with_onnxruntime(args.model, args.input, max_memory=_max_memory(args))
    labels = None
    if args.labels is not None:
        from nbq.quantize.evaluate import load_labels

        labels = load_labels(args.labels, next(iter(report.outputs_int.values())).shape[0])
    summary = summarize(report, labels)
    if args.json:
        print(json.dumps(_run_json(report, summary, args.verbose), indent=1))
        return EXIT_OK if report.agrees else EXIT_FAIL
    console = _console()
    if args.verbose:
        _print_predictions(console, report)
    _print_run_summary(console, report, summary, Path(args.model).name)
    if report.float64_steps is None:
        verdict = "[green]within one step[/green]" if report.agrees else "[red]MORE than one step[/red]"
        console.print(f"{report.executor} (float graph) vs nbq reference: largest deviation {report.max_steps:.3f} "
                      f"quantization steps — {verdict}")
    else:  # ORT was off by more than a step: the float64 evaluation says whose error it is
        if report.float32_rounding:
            why = ("[green]ORT's float32 rounding of large sums; the reference is within one step of the exact "
                   "graph[/green]")
        elif report.bias_rounding:
            from nbq.bias_rounding import describe

            why = (f"[green]the bias of {describe(report.rounded_biases)} is rounded to the accumulator step "
                   "at a graph output without a quantizer (an average pool or a finer rescale after it counts that in "
                   f"finer output steps); with those rounded biases the exact graph is within {report.bias_steps:.3f} "
                   "steps[/green]")
        else:
            why = "[red]MORE than one step from the exact graph too: an nbq error, please report it[/red]"
        console.print(f"nbq reference vs the float graph: deviation from ONNX Runtime float32: "
                      f"{report.max_steps:.3f} steps; from a float64 evaluation: {report.float64_steps:.3f} steps "
                      f"— {why}")
    return EXIT_OK if report.agrees else EXIT_FAIL


def _print_predictions(console, report) -> None:
    """--verbose: every output's integers and argmax per image."""
    import numpy as np

    np.set_printoptions(linewidth=120, threshold=200)
    for name, values in report.outputs_int.items():
        scale = report.scales[name]
        console.print(f"[bold]{shown(name)}[/bold] integers (scale {scale:g}), shape {values.shape}:")
        console.print(str(values), markup=False)
        console.print(f"  argmax: {values.reshape(values.shape[0], -1).argmax(axis=1).tolist()}", markup=False)


def _print_run_summary(console, report, summary, model: str) -> None:
    n = summary.images
    console.print(f"{visible(model)}: {n:,} image{'s' if n != 1 else ''}, nbq reference integers vs "
                  f"{report.executor} (output {visible(summary.output)})", markup=False)
    others = n - summary.agree
    ties = f"; {summary.ties} of the other {others} are ties in the reference" if summary.ties else ""
    console.print(f"  argmax agreement: {summary.agree:,}/{n:,} images ({100 * summary.agreement:.2f} %){ties}",
                  markup=False)
    if summary.reference_top1 is not None:
        console.print(f"  top-1 vs --labels: reference {100 * summary.reference_top1:.2f} %, "
                      f"{report.executor} {100 * summary.ort_top1:.2f} %", markup=False)
    shown_worst = [w for w in summary.worst if w.steps > 0 or w.reference_class != w.ort_class]
    if shown_worst:
        console.print("  worst images: " + ", ".join(
            f"#{w.index} {w.steps:.3f} steps (class {w.reference_class} vs {w.ort_class})" for w in shown_worst)
            + ("" if n <= len(shown_worst) else "; all of them: --verbose or --json"), markup=False)


def _run_json(report, summary, verbose: bool) -> dict:
    from nbq.run_summary import per_image

    data = {"executor": report.executor, "agrees": bool(report.agrees), "summary": summary.as_dict(),
            "float64_steps": report.float64_steps, "bias_steps": report.bias_steps,
            "images": [{"index": r.index, "steps": r.steps, "reference_class": r.reference_class,
                        "ort_class": r.ort_class} for r in per_image(report)]}
    if verbose:
        data["outputs"] = {name: {"scale": report.scales[name], "integers": values.tolist()}
                           for name, values in report.outputs_int.items()}
    return data


# -------------------------------------------------------------------- main


def _max_memory(args: argparse.Namespace) -> int | None:
    from nbq.guard import parse_memory

    return parse_memory(args.max_memory) if args.max_memory is not None else None


def _add_memory_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-memory", metavar="SIZE",
                   help="refuse models whose compile would need more memory, e.g. 8G or 512M "
                        "[half the physical RAM, and of `ulimit -v` if set]")


def _add_design_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fps", type=float, metavar="N",
                   help="the smallest design that reaches N frames/s [the fastest design within the budget]")
    p.add_argument("--budget", metavar="R=LIMIT,...",
                   help="override the board's budget, e.g. lut=200000,dsp=768,bram=60%% "
                        "[the board YAML's: 70%% of LUTs, 80%% of DSP/BRAM/URAM]")
    p.add_argument("--folding", metavar="FILE.json",
                   help="per-layer PE / SIMD / ram_style (the folding.json every project holds, edited)")
    _add_memory_option(p)


def _add_test_data_options(p: argparse.ArgumentParser, what: str, images: bool = True) -> None:
    p.add_argument("--test-data", metavar="X.npz",
                   help=f"labelled images ({what}): a .npz with arrays x (images as the model takes them) and "
                        "y (integer labels), as `nbq train` writes beside its ONNX (NAME_test.npz), or a .npy of "
                        "images with --labels; prints the hardware's top-1 beside the reference's")
    p.add_argument("--labels", metavar="Y.npy", help="integer labels (N,) of a .npy --test-data")
    if images:
        p.add_argument("--images", type=int, metavar="N", help="only the first N images of --test-data [all]")


class _Parser(argparse.ArgumentParser):
    """argparse with nbq's one-line error instead of the usage block (sub-commands inherit the class)."""

    def error(self, message: str):
        print(error_line("error", f"{message}; see `{self.prog} --help`"), file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nbq",
        description="Compile multiplier-free (power-of-two / binary) networks from ONNX into Vitis HLS "
        "projects for ZCU102 and U280, verified bit-exactly.",
    )
    parser.add_argument("--version", action="version", version=f"nbq {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="say more: every file `nbq compile` writes, every prediction of `nbq run`")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("compile", help="ONNX model -> Vitis HLS project (optionally C-simulated)",
                       description="Compile an ONNX model into a complete Vitis HLS project for a board.")
    p.add_argument("model", help="the .onnx file (see docs/onnx-contract.md for what it may contain)")
    p.add_argument("--board", default="zcu102", help="board name (see `nbq boards`) or a board YAML file [zcu102]")
    p.add_argument("-o", "--output", required=True, help="output folder for the project")
    p.add_argument("--csim", action="store_true", help="also build and run the C-simulation (g++)")
    p.add_argument("--rtl", action="store_true", help="also write the streaming RTL network into OUT/rtl")
    p.add_argument("--cosim", action="store_true", help="also co-simulate the RTL (implies --rtl; needs the sim extra)")
    p.add_argument("--engine", choices=("svpe", "vpe"), default="svpe",
                   help="power-of-two layers on shift-add SVPE arrays (no DSP) or on the 16-bit multiplier VPE "
                        "baseline; binary layers always use XNOR-popcount [svpe]")
    p.add_argument("--test-input", metavar="X.npy",
                   help="images (N, ...) or one image for the testbench golden vectors, a .npy file; "
                        "integer / bool arrays are taken as floats; complex, NaN / inf, object or string arrays "
                        "are refused; at most 4096 images [random + adversarial]")
    _add_test_data_options(p, "the golden vectors")
    _add_design_options(p)
    _add_quantize_options(p, "--quantize")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the final summary line")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("quantize", help="float ONNX model -> power-of-two / integer QDQ model nbq compiles",
                       description="Post-training quantization: calibrate a float ONNX model on images, round "
                       "its weights to po2:N or int:N and write the QDQ model (docs/quantize.md).")
    p.add_argument("model", help="the float .onnx file (e.g. from torch.onnx.export)")
    p.add_argument("-o", "--output", required=True, help="the quantized .onnx file to write")
    _add_quantize_options(p, "--weights")
    p.add_argument("--labels", metavar="Y.npy",
                   help="class labels of the evaluated images (of --test-data if given, else of --calibrate): "
                        "report both models' top-1 accuracy")
    p.add_argument("--test-data", metavar="X.npy", help="images to measure the accuracy on [the calibration images]")
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser("estimate", help="resources and throughput of a model on a board, before any synthesis",
                       description="Fold a model to a board's budget and print the per-layer estimate: cycles, "
                       "LUT, FF, DSP, BRAM, URAM, and the totals against the budget.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--board", default="zcu102", help="board name (see `nbq boards`) or a board YAML file [zcu102]")
    p.add_argument("--engine", choices=("svpe", "vpe"), default="svpe",
                   help="power-of-two layers on SVPE (shift-add) or VPE (multipliers) [svpe]")
    _add_design_options(p)
    _add_quantize_options(p, "--quantize")
    p.add_argument("--json", action="store_true", help="print the report as JSON (the project's report.json)")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("report", help="show a project's estimate beside Vitis HLS / Vivado reports found in it",
                       description="Read OUT/report.json and any csynth.xml / *utilization*.rpt inside OUT, "
                       "print them side by side and rewrite OUT/report.html.")
    p.add_argument("project", help="folder written by `nbq compile`")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("csim", help="C-simulate a generated project against its golden vectors",
                       description="Build the project's testbench with g++ and check it bit-exactly.")
    p.add_argument("project", help="folder written by `nbq compile`")
    _add_test_data_options(p, "rebuild the project's golden vectors from")
    p.set_defaults(func=cmd_csim)

    p = sub.add_parser("cosim", help="co-simulate a project's RTL cycle by cycle (cocotb + Verilator)",
                       description="Stream the golden vectors through the generated RTL network and report "
                       "pass/fail, cycles per image, frames/s at the board clock and PE utilisation.")
    p.add_argument("project", help="folder written by `nbq compile --rtl`")
    p.add_argument("--waves", action="store_true",
                   help=f"also dump every signal to OUT/rtl/sim_run/dump.vcd (first {WAVES_DEFAULT_IMAGES} images "
                        "unless --images says otherwise)")
    _add_test_data_options(p, "rebuild the project (with its RTL) around", images=False)
    p.add_argument("--images", type=int, metavar="N",
                   help="co-simulate only the first N golden images (of --test-data if given) [all]")
    p.set_defaults(func=cmd_cosim)

    p = sub.add_parser("build", help="run a project's Vitis/Vivado/XRT step (make TARGET), checking tools first",
                       description="Run one Makefile target of a generated project: csim, csynth, cosim and, "
                       "for U280 (vitis flow) xo, xclbin, host, run; for ZCU102 (vivado flow) ip, bitstream. "
                       "Missing tools are reported before make starts.")
    p.add_argument("project", help="folder written by `nbq compile`")
    p.add_argument("--target", required=True, metavar="TARGET",
                   help="csim|csynth|cosim|xo|xclbin|host|run (U280) or csim|csynth|cosim|ip|bitstream (ZCU102)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("run", help="run the reference executor and compare with ONNX Runtime",
                       description="Run the bit-exact integer reference on inputs and compare the float "
                       "graph in ONNX Runtime, reporting the largest deviation in quantization steps.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--input", required=True, metavar="X.npy",
                   help="images (N, ...) or one image, a .npy file; integer / bool arrays are taken as floats; "
                        "complex, NaN / inf, object or string arrays are refused; at most 4096 images")
    p.add_argument("--labels", metavar="Y.npy", help="class labels of the images (N,): also report top-1 accuracy")
    p.add_argument("--json", action="store_true",
                   help="print the summary and every image's deviation and classes as JSON (with -v also the "
                        "output integers)")
    _add_memory_option(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("boards", help="list the known boards", description="List boards/*.yaml.")
    p.set_defaults(func=cmd_boards)

    _add_train(sub)
    for command in sub.choices.values():  # -v after the command too; SUPPRESS keeps a -v given before it
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="say more (as `nbq -v COMMAND`)")
    return parser


def _add_train(sub) -> None:
    try:
        from nbq.nn.cli import add_train_arguments, run_train
    except ImportError:  # torch (the `train` extra) is not installed
        p = sub.add_parser("train", help="train a network (needs the `train` extra: torch)")
        p.set_defaults(func=lambda _a: (_ for _ in ()).throw(
            NbqError(f"nbq train needs PyTorch (torch==2.13.0 CPU): {install_hint('train')}")))
        return
    p = sub.add_parser("train", help="train a power-of-two / binary network and export it to ONNX")
    add_train_arguments(p)
    p.set_defaults(func=run_train)


def main(argv: list[str] | None = None) -> int:
    from nbq.console import captured_warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    if os.environ.get("NBQ_DEBUG"):  # warnings and tracebacks as Python prints them
        return args.func(args)
    with captured_warnings() as caught:  # stderr of a failing run is its one error line
        code = _run(args)
    if code in (EXIT_OK, EXIT_FAIL):
        for line in caught.notes():
            print(line, file=sys.stderr)
    return code


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except NbqError as exc:
        print(error_line("error", exc), file=sys.stderr)
        return EXIT_ERROR
    except ToolFailure as exc:  # a tool could not build what nbq generated: nbq's bug, not the design's
        print(error_line("internal error", exc), file=sys.stderr)
        return EXIT_INTERNAL
    except MemoryError:  # the guard's estimate (nbq.guard) passed, yet the machine ran out
        print(error_line("error", "out of memory: this model needs more memory than is available; free memory, "
                         "or lower --max-memory to have nbq refuse such models up front"), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("nbq: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout's reader left (`nbq run ... --json | head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return EXIT_SIGPIPE
    except OSError as exc:
        if exc.filename is None:
            return _internal(exc)
        # a path the user gave, or the output folder: too long, unreadable, not writable, disk full
        print(error_line("error", f"{exc.filename}: {exc.strerror or exc}; check the path and its permissions"),
              file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        return _internal(exc)


def _internal(exc: Exception) -> int:
    """A bug in nbq: one line unless asked for the traceback (NBQ_DEBUG)."""
    print(error_line("internal error", f"{type(exc).__name__}: {exc}") + " (set NBQ_DEBUG=1 for a traceback; "
          "please report it)", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
