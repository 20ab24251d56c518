"""nbq's Python API: compile, estimate, C-simulate, co-simulate and measure accuracy (docs/api.md).

The CLI's compile / estimate / csim / cosim commands are argument parsing and printing over these calls; both
raise the nbq.errors classes with the same one-line messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nbq.accuracy import Accuracy, measure, output_classes
from nbq.board_catalog import Board, known_boards, load_board
from nbq.errors import NbqError
from nbq.testdata import TestData, check_classes, check_count, from_arrays, load_test_data

Log = Callable[[str], None]  # one line per step
Progress = Callable[[int, int], None]  # (done, total) of a counted step: images simulated
SETTINGS_KEY = "compile"  # report.json: how the project was compiled, so it can be rebuilt with other images
TestDataArg = TestData | str | Path | tuple | None


@dataclass(frozen=True)
class Report:
    """report.json of a project (or of `nbq.estimate`) as a typed record; `data` is the whole JSON."""

    model: str
    board: str
    part: str
    engine: str
    mode: str  # "max-throughput" or the fps target's mode
    ii_cycles: int  # cycles per image (initiation interval)
    frames_per_s: float
    clock_mhz: float
    total: dict[str, float]  # estimated lut, ff, dsp, bram36, uram
    budget: dict[str, float]
    usage: dict[str, float | None]  # fraction of the budget
    layers: list[dict]
    verification: dict
    data: dict = field(repr=False)

    @classmethod
    def from_dict(cls, data: dict) -> Report:
        perf = data["performance"]
        return cls(data["model"], data["board"], data["part"], data["engine"], data["mode"], int(perf["ii_cycles"]),
                   float(perf["frames_per_s"]), float(perf["clock_mhz"]), dict(data["total"]), dict(data["budget"]),
                   dict(data["usage"]), list(data["layers"]), dict(data.get("verification") or {}), data)


@dataclass(frozen=True)
class SimRun:
    """One C-simulation or co-simulation: the verdict and accuracy (`accuracy`) and the simulator's result."""

    accuracy: Accuracy
    result: object  # nbq.sim.csim.CsimResult or nbq.sim.cosim.CosimResult

    @property
    def passed(self) -> bool:
        return self.accuracy.bit_exact

    def line(self) -> str:
        return self.accuracy.line()


@dataclass(frozen=True)
class Settings:
    """How a project was compiled (kept in its report.json), to rebuild it around other golden images."""

    model: str  # absolute path of the ONNX file
    board: str  # a known board's name or a board YAML's absolute path
    engine: str = "svpe"
    fps: float | None = None
    budget: dict[str, str] | None = None
    folding: str | None = None
    rtl: bool = False
    quantized: bool = False  # the project holds quantized.onnx, which is what gets recompiled
    labels: list[int] | None = None  # of the golden images, when they came from labelled test data

    def as_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: object, where: Path) -> Settings:
        fields = set(cls.__dataclass_fields__)
        if not isinstance(data, dict) or not isinstance(data.get("model"), str) or not set(data) <= fields:
            raise NbqError(f"{where}: its '{SETTINGS_KEY}' entry is damaged; compile the project again")
        return cls(**data)


def boards() -> list[Board]:
    """The known boards (boards/*.yaml); `board=` also takes a path to a YAML file."""
    return known_boards()


def _board(board: str | Board) -> Board:
    return board if isinstance(board, Board) else load_board(str(board))


def _budget(budget: dict[str, str] | str | None) -> dict[str, str] | None:
    from nbq.plan.budget import parse_budget

    return parse_budget(budget) if isinstance(budget, str) else budget


def estimate(model: str | Path, board: str | Board = "zcu102", engine: str = "svpe", fps: float | None = None,
             budget: dict[str, str] | str | None = None, folding: str | Path | None = None,
             max_memory: int | None = None, quantize=None, log: Log | None = None) -> Report:
    """Fold `model` to the board's budget and estimate it (what `nbq estimate` prints), before any synthesis."""
    b = _board(board)  # before the compiler's (slow) imports: a bad board fails at once
    from nbq.estimation.report import report_data
    from nbq.pipeline import design

    fit = design(model, b, engine, fps, _budget(budget), folding, progress=log, max_memory=max_memory,
                 quantize=quantize)
    return Report.from_dict(report_data(fit, Path(model).name))


def compile(model: str | Path, board: str | Board = "zcu102", out: str | Path | None = None,  # noqa: A001
            engine: str = "svpe", fps: float | None = None, budget: dict[str, str] | str | None = None,
            rtl: bool = False, folding: str | Path | None = None, test_data: TestDataArg = None,
            labels: str | Path | None = None, images: int | None = None, test_input: str | Path | None = None,
            max_memory: int | None = None, quantize=None, log: Log | None = None) -> Project:
    """Compile an ONNX model into a Vitis HLS project (and, with rtl, its SystemVerilog network) in `out`
    (default: MODEL-STEM_nbq in the current folder).

    test_data: labelled images for the golden vectors, so `csim()` / `cosim()` report accuracy: a .npz with x
    and y, a .npy of images (+ `labels`, a .npy), an (x, y) pair of arrays or a TestData; `images` keeps the
    first N. test_input: a .npy of images without labels (`nbq compile --test-input`). Default: random and
    adversarial images.
    """
    b = _board(board)
    if out is None:
        out = f"{Path(model).stem}_nbq"  # as the user spelt it, otherwise: errors name their `-o` ("./", not ".")
    if images is not None and test_data is None:
        raise NbqError("images=N (--images) takes the first N of the test data; give test_data (--test-data) too")
    if test_data is not None and test_input is not None:
        raise NbqError("test_input and test_data both give golden images; pass one (test_data has labels)")
    data = _test_data(test_data, labels, None, images) if test_data is not None else None
    settings = Settings(str(Path(model).resolve()), b.name if b.path == str(_known_path(b.name)) else
                        str(Path(b.path).resolve()), engine, fps, _budget(budget),
                        str(Path(folding).resolve()) if folding is not None else None, rtl, quantize is not None)
    return _compile(model, b, out, settings, data, test_input, max_memory, quantize, log)


def _known_path(name: str) -> Path | None:
    from nbq.board_catalog import board_files

    return board_files().get(name)


def _compile(model: str | Path, board: Board, out: str | Path, settings: Settings, data: TestData | None,
             test_input: str | Path | None, max_memory: int | None, quantize, log: Log | None) -> Project:
    from nbq.pipeline import compile_model

    inputs = data.x if data is not None else test_input
    try:
        result = compile_model(model, board, out, test_inputs=inputs, progress=log, rtl=settings.rtl,
                               engine=settings.engine, fps=settings.fps, budget=settings.budget,
                               folding=settings.folding, max_memory=max_memory, quantize=quantize)
    except NbqError as exc:  # the images' shape is judged once the model is known: name the user's file
        prefix = "test inputs: "
        if data is None or not str(exc).startswith(prefix):
            raise
        raise NbqError(f"{data.x_name}: {str(exc)[len(prefix):]}") from None
    labels = None if data is None or data.y is None else [int(v) for v in data.y]
    project = Project(Path(out), Settings(**{**settings.as_json(), "labels": labels}), result)
    if labels is not None:
        check_classes(data, output_classes(project.manifest))
    project._save_settings()
    return project


def open_project(path: str | Path) -> Project:
    """A project folder written by `nbq compile` (or `nbq.compile`)."""
    out = Path(path)
    from nbq.sim.csim import MANIFEST

    if not (out / MANIFEST).is_file():
        raise NbqError(f"{out}: not an nbq project (no {MANIFEST}); run `nbq compile` first")
    project = Project(out, None, None)
    data = project._report_data()
    if data is not None and SETTINGS_KEY in data:
        project.settings = Settings.from_json(data[SETTINGS_KEY], out / "report.json")
    return project


@dataclass
class Project:
    """A generated project: simulate it, read its report, measure its accuracy."""

    path: Path
    settings: Settings | None  # None for a project compiled by an nbq without them: it cannot be rebuilt
    result: object | None = None  # nbq.pipeline.CompileResult when compiled in this session

    @property
    def manifest(self) -> dict:
        from nbq.sim.csim import _read_manifest

        return _read_manifest(self.path)

    @property
    def report(self) -> Report:
        data = self._report_data()
        if data is None:
            raise NbqError(f"{self.path}: no report.json from nbq; run `nbq compile` first")
        return Report.from_dict(data)

    def estimate(self) -> Report:
        """The design's estimate (resources, cycles, frames/s): the project's report."""
        return self.report

    @property
    def labels(self) -> np.ndarray | None:
        """Labels of the golden images (when compiled with labelled test data)."""
        if self.settings is None or self.settings.labels is None:
            return None
        return np.asarray(self.settings.labels, dtype=np.int64)

    def csim(self, images: int | None = None, test_data: TestDataArg = None, labels: str | Path | None = None,
             log: Log | None = None, progress: Progress | None = None) -> SimRun:
        """C-simulate (g++) against the golden vectors; with test_data (see `nbq.compile`) the project is first
        rebuilt around those images (their first `images`), so the run reports top-1 accuracy too."""
        self._use_test_data(images, test_data, labels, rtl=False, log=log, sim="csim")
        from nbq.pipeline import record_csim
        from nbq.sim.csim import check_built, read_csim_outputs, run_csim

        res = check_built(run_csim(self.path, progress=progress), self.path)
        record_csim(self.path, res)
        hardware = read_csim_outputs(self.path) if self.labels is not None and res.images else None
        return SimRun(measure("csim", self.path, res.passed, res.images, res.mismatches, self.labels, hardware), res)

    def cosim(self, images: int | None = None, test_data: TestDataArg = None, labels: str | Path | None = None,
              waves: bool = False, log: Log | None = None, progress: Progress | None = None) -> SimRun:
        """Co-simulate the RTL (cocotb + Verilator): every golden image (or the first `images`); with test_data
        the project is rebuilt (with its RTL) around those images first."""
        if test_data is not None:
            self._use_test_data(images, test_data, labels, rtl=True, log=log, sim="cosim")
            images = None  # the rebuilt project holds just those
        elif not (self.path / "rtl").is_dir():
            raise NbqError(f"{self.path}: no RTL in this project; run `nbq compile ... --rtl` first")
        if images is not None:
            check_count(images)
        from nbq.sim.cosim import run_cosim

        res = run_cosim(self.path, waves=waves, max_images=images, log=log, progress=progress)
        if images is None:  # a verdict over every golden image goes into the report
            from nbq.pipeline import record_cosim

            record_cosim(self.path, res)
        labels_ = self.labels[:res.images] if self.labels is not None else None
        return SimRun(measure("cosim", self.path, res.passed, res.images, res.mismatches, labels_, res.outputs), res)

    def accuracy(self, x, y, images: int | None = None, cosim: bool = False) -> Accuracy:
        """Reference vs hardware (C-sim, or co-sim) top-1 on images x with labels y, and the bit-exact verdict;
        the project is rebuilt around those images."""
        run = self.cosim(images, (x, y)) if cosim else self.csim(images, (x, y))
        return run.accuracy

    # ------------------------------------------------------------------ internals

    def _report_data(self) -> dict | None:
        from nbq.estimation.report import read_report

        return read_report(self.path)

    def _save_settings(self) -> None:
        from nbq.estimation.report import write_report

        data = self._report_data()
        if data is not None and self.settings is not None:
            data[SETTINGS_KEY] = self.settings.as_json()
            write_report(self.path, data)

    def _use_test_data(self, images: int | None, test_data: TestDataArg, labels: str | Path | None, rtl: bool,
                       log: Log | None, sim: str) -> None:
        if test_data is None:
            if images is not None:
                raise NbqError(f"{sim} images=N (--images) takes the first N of the test data; give test_data "
                               "(--test-data) too, or compile with --test-data")
            return
        if self.settings is None:
            raise NbqError(f"{self.path}: compiled by an nbq that did not record how; compile it again to check "
                           "other test data")
        data = _test_data(test_data, labels, tuple(self.manifest["input"]["shape"]), images)
        s = self.settings
        if s.quantized:
            raise NbqError(f"{self.path}: compiled from a float model quantized on the way; to check other test "
                           "data compile it again with --quantize and --test-data")
        if not Path(s.model).is_file():
            raise NbqError(f"{self.path}: its model {s.model} is gone; compile again with `nbq compile "
                           "--test-data`")
        rebuilt = _compile(s.model, load_board(s.board), self.path, Settings(**{**s.as_json(), "rtl": s.rtl or rtl}),
                           data, None, None, None, log)
        self.settings, self.result = rebuilt.settings, rebuilt.result


def _test_data(test_data: TestDataArg, labels: str | Path | None, shape: tuple[int, ...] | None,
               images: int | None) -> TestData:
    if isinstance(test_data, TestData):
        data = test_data
    elif isinstance(test_data, tuple):
        if len(test_data) != 2:
            raise NbqError("test_data as a tuple is (x, y): images and their labels")
        data = from_arrays(test_data[0], test_data[1], shape)
    else:
        data = load_test_data(test_data, labels, shape)
    return data.first(images)
