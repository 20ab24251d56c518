"""`nbq build`: run one Makefile target of a generated project, after checking its tools.

The manifest (nbq_project.json) lists each target with the tools it needs, the targets it
builds first when their product is missing, and the file it leaves behind; the same table
wrote the Makefile, so the check here and the check in the Makefile agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from nbq.backends.hls.flow import tool_hint
from nbq.errors import NbqError, ToolNotFoundError

MANIFEST = "nbq_project.json"
# The Makefile variables that name each tool (`VPP=/opt/.../v++ nbq build ...` is honoured like make does)
TOOL_VARIABLES = {"vitis_hls": "VITIS_HLS", "v++": "VPP", "vitis-run": "VITIS_RUN", "vivado": "VIVADO", "g++": "CXX"}


def project_targets(project_dir: Path) -> tuple[dict, dict[str, dict]]:
    """(manifest, targets) of a generated project."""
    path = Path(project_dir) / MANIFEST
    if not path.is_file():
        raise NbqError(f"{project_dir}: not an nbq project (no {MANIFEST}); run `nbq compile` first")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise NbqError(f"{path}: not valid JSON ({exc})") from None
    listed = manifest.get("targets")
    if not isinstance(listed, list) or not listed or not all(isinstance(t, dict) and "name" in t for t in listed):
        raise NbqError(f"{project_dir}: the project lists no build targets; recompile it with this nbq")
    return manifest, {t["name"]: t for t in listed}


def _tool_present(tool: str, env: Mapping[str, str]) -> bool:
    if tool.startswith("$"):
        folder = env.get(tool[1:], "")
        return bool(folder) and Path(folder).is_dir()
    program = env.get(TOOL_VARIABLES.get(tool, ""), "") or tool
    return shutil.which(program, path=env.get("PATH", "")) is not None


def missing_requirement(project_dir: Path, target: str, env: Mapping[str, str] | None = None) -> str | None:
    """The first requirement of `target` (or of a target it must build first) that is absent, as
    "TARGET needs TOOL; HINT", or None when everything is there."""
    env = os.environ if env is None else env
    _, targets = project_targets(project_dir)
    seen: set[str] = set()

    def walk(name: str) -> str | None:
        if name in seen:
            return None
        seen.add(name)
        spec = targets[name]
        for requirement in spec.get("tools", []):
            choices = requirement.split("|")
            if not any(_tool_present(tool, env) for tool in choices):
                if choices[0].startswith("$"):
                    what = f"{choices[0]} set to an install folder"
                else:
                    what = " or ".join(choices) + " on PATH"
                return f"`make {name}` needs {what}; {tool_hint(choices[0])}"
        for dependency in spec.get("requires", []):
            product = targets.get(dependency, {}).get("product", "")
            if dependency in targets and not (product and (Path(project_dir) / product).exists()):
                problem = walk(dependency)
                if problem:
                    return problem
        return None

    return walk(target)


def check_target(project_dir: Path, target: str, env: Mapping[str, str] | None = None) -> dict:
    """Raise NbqError for a target outside the project's flow, ToolNotFoundError for a missing tool."""
    env = os.environ if env is None else env
    manifest, targets = project_targets(project_dir)
    if target not in targets:
        raise NbqError(
            f"target '{target}' is not part of this {manifest.get('flow', '?')} project "
            f"({manifest.get('board', '?')}); valid targets: {', '.join(targets)}"
        )
    if shutil.which("make", path=env.get("PATH", "")) is None:
        raise ToolNotFoundError(f"`nbq build` runs make, which is not on PATH; {tool_hint('make')}")
    problem = missing_requirement(project_dir, target, env)
    if problem:
        raise ToolNotFoundError(problem)
    return targets[target]


def build_target(project_dir: Path, target: str, env: Mapping[str, str] | None = None,
                 echo: Callable[[str], None] | None = None) -> int:
    """Run `make TARGET` in the project and return make's exit code.

    make's output (stdout and stderr) streams to ours, or line by line to `echo` when given (so a spinner can
    print it above itself).
    """
    env = dict(os.environ if env is None else env)
    project_dir = Path(project_dir)
    check_target(project_dir, target, env)
    # PYTHON: the interpreter running nbq has hls4ml, whose ap_int.h the csim target compiles against
    command = ["make", "--no-print-directory", "-C", str(project_dir), target, f"PYTHON={sys.executable}"]
    sys.stdout.flush()
    if echo is None:
        return subprocess.run(command, env=env).returncode
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", bufsize=1) as proc:
        for line in proc.stdout:
            echo(line.rstrip("\n"))
    return proc.returncode
