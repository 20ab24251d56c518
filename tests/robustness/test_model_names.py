"""Hostile ONNX names (graph, nodes, tensors, the model's file name) compile, and reach generated files only
escaped for each file's language: code (C++, SystemVerilog, TCL, Make, cfg, Markdown) never holds one raw;
JSON holds them as JSON strings (and reads them back exactly); HTML holds none with markup characters."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest
from harness import EXAMPLE, files_containing

PAYLOADS = ['"; system("touch PWNED"); //', "*/ int pwned; /*", "line\nbreak", "$(shell touch PWNED)",
            "}]; exec touch PWNED; puts {", "</script><script>alert(1)</script>", "tri??/", "back\\slash\\",
            "`touch PWNED`", "[bold]rich[/bold] | md *x* #h"]
JSON_SPECIAL = set('"\\\n')
HTML_SPECIAL = set("<>\"&'")


def hostile_model(path: Path) -> list[str]:
    """EXAMPLE with every node, tensor and the graph renamed after a payload; returns the node names."""
    model = onnx.load(str(EXAMPLE))
    g = model.graph
    names: dict[str, str] = {}

    def new(old: str) -> str:
        if old and old not in names:
            names[old] = f"{PAYLOADS[len(names) % len(PAYLOADS)]}{len(names)}"
        return names.get(old, old)

    for i, node in enumerate(g.node):
        node.name = f"{PAYLOADS[i % len(PAYLOADS)]}node{i}"
        node.input[:] = [new(x) for x in node.input]
        node.output[:] = [new(x) for x in node.output]
    for coll in (g.input, g.output, g.value_info, g.initializer):
        for t in coll:
            t.name = new(t.name)
    g.name = PAYLOADS[0] + "graph"
    onnx.save(model, str(path))
    return [node.name for node in g.node]


def assert_only_escaped(project: Path, payloads: list[str]) -> None:
    for path in sorted(p for p in project.rglob("*") if p.is_file()):
        data, rel = path.read_bytes(), path.relative_to(project)
        if path.suffix == ".json":
            json.loads(data)  # still valid JSON: the names inside are JSON strings
            leaks = [p for p in payloads if JSON_SPECIAL & set(p) and p.encode() in data]
        elif path.suffix == ".html":
            leaks = [p for p in payloads if HTML_SPECIAL & set(p) and p.encode() in data]
        else:
            leaks = [p for p in payloads if p.encode() in data]
        assert not leaks, f"{rel} holds {leaks}"


def test_hostile_node_and_tensor_names_compile_escaped(sandbox):
    nodes = hostile_model(sandbox.work / "evil.onnx")
    sandbox.snapshot()
    args = ["compile", "evil.onnx", "-o", "proj", "--rtl"] + (["--csim"] if shutil.which("g++") else [])
    out = sandbox.nbq(*args)
    assert out.code == 0, out.describe()
    assert sandbox.changed(allowed=("work/proj",)) == []
    assert not list(sandbox.root.rglob("PWNED")) and not list(sandbox.root.rglob("pwned"))
    project = sandbox.work / "proj"
    assert_only_escaped(project, PAYLOADS)
    # JSON keeps the exact names (escaping is lossless there): every reported layer is one of the nodes'
    # names or derived from one
    report = json.loads((project / "report.json").read_text())
    assert {la["name"] for la in report["layers"]} and all(
        any(la["name"].startswith(n) or n in la["name"] for n in nodes) for la in report["layers"])
    if "--csim" in args:
        assert "PASS" in out.stdout, out.describe()


@pytest.mark.parametrize("stem", ['m$(shell touch PWNED)";x', "m}]; exec touch PWNED; #", "m<script>`id`&x"],
                         ids=["make_quote", "tcl_brace", "html_backquote"])
def test_hostile_model_file_name_compiles_escaped(sandbox, stem):
    shutil.copy(EXAMPLE, sandbox.work / f"{stem}.onnx")
    sandbox.snapshot()
    out = sandbox.nbq("compile", f"{stem}.onnx", "-o", "proj", "--rtl")
    assert out.code == 0, out.describe()
    assert sandbox.changed(allowed=("work/proj",)) == []
    assert not list(sandbox.root.rglob("PWNED"))
    project = sandbox.work / "proj"
    assert_only_escaped(project, [stem, f"{stem}.onnx"])
    assert json.loads((project / "report.json").read_text())["model"] == f"{stem}.onnx"
    assert files_containing(project, "PWNED\n") == []  # no payload ends a line anywhere (a live command)
