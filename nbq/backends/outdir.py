"""Output folders: which paths nbq may write to, which existing folders it may replace, and the swap itself.

nbq replaces a folder only when everything in it is nbq's: a file its manifest lists, or something inside a
build-output location (`Owned.build_outputs`) that the generated Makefile or nbq's simulators create.
Anything else (a user's file, a symlink nbq did not make) makes nbq refuse, naming it.  Deleting never
follows a symlink, and the hidden siblings used for the swap are unique to this process and always removed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from nbq.errors import NbqError

NAME_MAX = 255  # bytes per path component (Linux)
PATH_MAX = 4096
# mkdtemp's hidden sibling ".NAME.nbq-new-XXXXXXXX" must fit in NAME_MAX too
_SIBLING_EXTRA = len("..nbq-new-") + 8


@dataclass(frozen=True)
class Owned:
    """What nbq wrote in a folder: listed files (relative POSIX paths) and build-output patterns.

    A pattern ending in "/" is a folder whose whole subtree is a tool's (e.g. "csim_build/",
    "rtl/sim_build*/"); any other pattern matches one file, component by component ("vivado/*.log")."""

    files: frozenset[str]
    build_outputs: tuple[str, ...] = ()

    def is_build_dir(self, rel: str) -> bool:
        return any(p.endswith("/") and _match(rel, p[:-1]) for p in self.build_outputs)

    def is_build_file(self, rel: str) -> bool:
        return any(not p.endswith("/") and _match(rel, p) for p in self.build_outputs)

    def parents(self) -> frozenset[str]:
        """Folders that hold listed files or build outputs (literal prefixes of the patterns)."""
        out: set[str] = set()
        for item in [*self.files, *self.build_outputs]:
            parts = PurePosixPath(item.rstrip("/")).parts[:-1]
            for i in range(1, len(parts) + 1):
                if any(ch in parts[i - 1] for ch in "*?["):
                    break
                out.add("/".join(parts[:i]))
        return frozenset(out)

    def with_prefix(self, prefix: str) -> Owned:
        return Owned(frozenset(f"{prefix}/{f}" for f in self.files),
                     tuple(f"{prefix}/{p}" for p in self.build_outputs))

    def __or__(self, other: Owned) -> Owned:
        return Owned(self.files | other.files, self.build_outputs + other.build_outputs)


def _match(rel: str, pattern: str) -> bool:
    a, b = rel.split("/"), pattern.split("/")
    return len(a) == len(b) and all(fnmatchcase(x, y) for x, y in zip(a, b, strict=True))


# ------------------------------------------------------------------ where nbq may write


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_path(out_dir: str | Path, model: str | Path | None = None) -> Path:
    """Refuse an output path nbq must not replace or cannot create; return it absolute (not resolved).

    Refused: ".", "..", "/", the home folder and any folder holding the current directory, the home folder
    or the model file; a symlink; names with control characters or bytes that are not UTF-8; names longer
    than the file system allows; a path whose parent is a file."""
    shown = str(out_dir)
    what = f"output folder {shown}"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in shown):
        raise NbqError(f"{what!r}: the path holds a control character; choose a plain folder name")
    try:
        encoded = os.fsencode(shown)
        shown.encode("utf-8")
    except (UnicodeError, ValueError):
        raise NbqError(f"{what.encode('utf-8', 'backslashreplace').decode()}: the path is not valid UTF-8; "
                       "choose a plain folder name") from None
    if not shown or b"\0" in encoded:
        raise NbqError(f"{what!r}: not a usable path; choose a folder name")
    stripped = shown.rstrip("/")
    if stripped and stripped.rsplit("/", 1)[-1] in (".", ".."):
        raise NbqError(f"{what}: names the current folder or one of its parents; give a folder of its own "
                       "(e.g. -o proj)")
    absolute = Path(os.path.abspath(shown))
    if len(os.fsencode(str(absolute))) >= PATH_MAX:
        raise NbqError(f"{what}: the path is longer than {PATH_MAX} bytes; choose a shorter one")
    for part in absolute.parts[1:]:
        if len(os.fsencode(part)) > NAME_MAX:
            raise NbqError(f"{what}: the name {part[:40]}... is longer than {NAME_MAX} bytes; choose a shorter one")
    if len(os.fsencode(absolute.name)) + _SIBLING_EXTRA > NAME_MAX:
        raise NbqError(f"{what}: the folder name is too long (at most {NAME_MAX - _SIBLING_EXTRA} bytes); "
                       "choose a shorter one")
    if absolute.is_symlink():
        raise NbqError(f"{what} is a symbolic link; give the real folder it points to (or another folder)")
    real = Path(os.path.realpath(absolute))
    guarded = [(Path("/"), "the root folder"), (Path.home().resolve(), "the home folder")]
    try:
        guarded.append((Path.cwd().resolve(), "the current folder"))
    except OSError:
        pass  # the current folder was deleted: nothing to protect there
    if model is not None:
        model_name = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(model))  # stays one line
        guarded.append((Path(os.path.realpath(model)), f"the model {model_name}"))
    for path, name in guarded:
        if _inside(path, real):
            raise NbqError(f"{what} is or holds {name}; choose a folder of its own for the project")
    _check_parents(absolute, what)
    if absolute.exists() and not absolute.is_dir():
        raise NbqError(f"{what} exists and is not a folder; choose another path")
    return absolute


def _check_parents(absolute: Path, what: str) -> None:
    for parent in reversed(absolute.parents):
        if not parent.exists():
            return  # created at write time
        if not parent.is_dir():
            raise NbqError(f"{what}: {parent} is a file, not a folder; choose another path")


# ------------------------------------------------------------------ which folders are nbq's


def read_listing(path: Path, marker: str) -> tuple[dict, frozenset[str]] | None:
    """(manifest, listed files) of an nbq manifest: a regular JSON file holding an object with `marker`
    and a `files` list of strings; None for anything else (missing, a symlink, not JSON, not nbq's)."""
    if path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, ValueError):
        return None
    if not isinstance(data, dict) or marker not in data:
        return None
    files = data.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return data, frozenset(files)


def foreign_entry(folder: Path, owned: Owned) -> str | None:
    """The first entry of `folder` (sorted, relative) that nbq did not write, or None."""
    parents = owned.parents()
    def unreadable(exc: OSError) -> None:
        raise NbqError(f"{exc.filename}: cannot read it ({exc.strerror}) to check that it is nbq's; fix its "
                       "permissions or choose another output folder")

    for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable):  # never follows symlinks
        rel_dir = os.path.relpath(dirpath, folder)
        prefix = "" if rel_dir == "." else rel_dir + "/"
        entries = sorted(dirnames + filenames)
        descend = []
        for name in entries:
            rel = prefix + name
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                return rel  # nbq never writes symlinks
            if name in dirnames:
                if owned.is_build_dir(rel):
                    continue  # a tool's output: nbq's to replace, contents unchecked
                if rel not in parents:
                    return rel + "/"
                descend.append(name)
            elif rel not in owned.files and not owned.is_build_file(rel):
                return rel
        dirnames[:] = descend
    return None


def check_replaceable(folder: Path, shown: str, owned: Owned | None, manifest: str) -> None:
    """Refuse to replace `folder` unless it is missing, empty or entirely nbq's."""
    if not folder.exists() or not any(folder.iterdir()):
        return
    if owned is None:
        raise NbqError(f"output folder {shown} is not an nbq project (no valid {manifest}); choose another "
                       "folder or empty it")
    foreign = foreign_entry(folder, owned)
    if foreign is not None:
        raise NbqError(f"output folder {shown} is not an nbq project: {os.path.join(shown, foreign)} was not "
                       "written by nbq; choose another folder (or move that file away)")


# ------------------------------------------------------------------ the swap


def _os_error(shown: str, exc: OSError) -> NbqError:
    return NbqError(f"output folder {shown}: cannot write there ({exc.strerror or exc}); choose another folder")


def replace_folder(folder: Path, files: Mapping[str, str | bytes], keep: Sequence[str] = (),
                   shown: str | None = None) -> None:
    """Write `files` into a hidden sibling, then swap it for `folder`, so a failure never leaves half a
    project.  `keep`: relative folders of the old one (simulation builds) moved into the new one."""
    shown = shown or str(folder)
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp: Path | None = Path(tempfile.mkdtemp(prefix=f".{folder.name}.nbq-new-", dir=parent))
    except OSError as exc:
        raise _os_error(shown, exc) from None
    old: Path | None = None
    try:
        try:
            _write_files(tmp, files.items())
            if os.path.lexists(folder):
                old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.nbq-old-", dir=parent))
                os.replace(folder, old)  # onto the empty folder mkdtemp made: atomic
            try:
                os.replace(tmp, folder)
            except BaseException:
                if old is not None:
                    os.replace(old, folder)
                    old = None
                raise
            tmp = None
        except OSError as exc:
            raise _os_error(shown, exc) from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if old is not None:
        _carry_over(old, folder, keep)
        shutil.rmtree(old, ignore_errors=True)  # rmtree removes symlinks, never what they point to


def _write_files(root: Path, items: Iterable[tuple[str, str | bytes]]) -> None:
    for rel, data in items:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def _carry_over(old: Path, new: Path, keep: Sequence[str]) -> None:
    for rel in keep:
        src, dst = old / rel, new / rel
        if src.is_symlink() or not src.is_dir() or os.path.lexists(dst):
            continue
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
        except OSError:
            pass  # only a cache: it is rebuilt
