"""The C-simulation values of a project's manifest, checked before any of them reaches g++'s command line.

A manifest is a file anyone can edit: a source named "@file" would make g++ read options from that file,
"-wrapper=..." would make it run a program, "../../etc/passwd" or a symlink would compile something outside
the project.  So each value must be a plain relative path inside the project, of an existing file (sources)
or folder (include), and the top name a C identifier (it names the binary).
"""

from __future__ import annotations

import os
from pathlib import Path

from nbq.backends.names import c_identifier
from nbq.errors import NbqError

MANIFEST = "nbq_project.json"


def _bad(field: str, value: object, why: str) -> NbqError:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return NbqError(f"{MANIFEST}: {field} {text} {why}; recompile the project with `nbq compile`")


def project_path(project_dir: Path, field: str, value: object, kind: str) -> str:
    """`value` if it is a relative path to an existing `kind` ("file" or "folder") inside project_dir
    (after symlinks) that no tool can take for an option; otherwise NbqError naming the field."""
    if not isinstance(value, str) or not value:
        raise _bad(field, value, "is not a path (a non-empty string)")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise _bad(field, value, "holds a control character")
    if value.startswith(("-", "@")):
        raise _bad(field, value, "starts with '-' or '@' (g++ would read it as an option)")
    if os.path.isabs(value):
        raise _bad(field, value, "is an absolute path; it must be relative to the project folder")
    if ".." in Path(value).parts:
        raise _bad(field, value, "leaves the project folder ('..')")
    root = project_dir.resolve()
    real = (root / value).resolve()
    if real != root and root not in real.parents:
        raise _bad(field, value, "points outside the project folder (through a symlink)")
    exists = real.is_file() if kind == "file" else real.is_dir()
    if not exists:
        raise _bad(field, value, f"is not an existing {kind} of the project")
    return value


def csim_inputs(project_dir: Path, manifest: dict) -> tuple[str, list[str], str]:
    """(top, sources, include folder) for the C-simulation build, each checked (see the module docstring)."""
    top = manifest.get("top", "nbq_top")
    if not isinstance(top, str) or c_identifier(top) != top:
        raise _bad("top", top, "is not a C identifier")
    csim = manifest.get("csim", {})
    if not isinstance(csim, dict):
        raise _bad("csim", csim, "is not an object")
    sources = csim.get("sources", [f"firmware/{top}.cpp", f"tb/{top}_tb.cpp"])
    if not isinstance(sources, list) or not sources:
        raise _bad("csim.sources", sources, "is not a non-empty list of paths")
    checked = [project_path(project_dir, f"csim.sources[{i}]", s, "file") for i, s in enumerate(sources)]
    stems = [Path(s).stem for s in checked]
    if len(set(stems)) != len(stems):
        raise _bad("csim.sources", sources, "holds two sources of the same name (their objects would clash)")
    include = project_path(project_dir, "csim.include", csim.get("include", "firmware"), "folder")
    return top, checked, include


def rom_files(project_dir: Path, manifest: dict) -> list[Path]:
    """The packed weight ROMs (firmware/rom/*.bin) whose initializers the build generates, each checked."""
    rom = manifest.get("rom_init") or {}
    if not isinstance(rom, dict):
        raise _bad("rom_init", rom, "is not an object")
    files = rom.get("files", [])
    if not isinstance(files, list):
        raise _bad("rom_init.files", files, "is not a list of paths")
    checked = [project_path(project_dir, f"rom_init.files[{i}]", f, "file") for i, f in enumerate(files)]
    for i, f in enumerate(checked):
        if not (f.startswith("firmware/rom/") and f.endswith(".bin")):
            raise _bad(f"rom_init.files[{i}]", f, "is not a firmware/rom/*.bin file")
    return [project_dir / f for f in checked]
