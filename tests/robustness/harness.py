"""Run the nbq CLI as a hostile user would, in a sandbox, and check what it promises.

Every case runs `python -m nbq.cli ...` in a child process with
- a 2 GiB address-space limit (RLIMIT_AS), so unbounded allocation fails instead of swapping;
- HOME and TMPDIR inside the sandbox, so writes there are seen;
- the sandbox's `work/` folder as the current directory, so relative paths are exercised;
- PYTHONPATH at this checkout, so the code under test is this tree's.

`Sandbox.snapshot()` / `Sandbox.changed()` tell which files were created, changed or removed,
so a test asserts that nothing outside the output folder was touched.
"""

from __future__ import annotations

import hashlib
import os
import resource
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "digits_po2_cnn.onnx"
ADDRESS_SPACE_LIMIT = 2 << 30  # bytes, per case
TIMEOUT_S = 240
HASH_LIMIT = 64 << 20  # larger files are compared by size and mtime


NBQ_CACHE = "home/.cache/nbq"  # $XDG_CACHE_HOME/nbq: the one place outside an output folder nbq writes


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    args: tuple[str, ...] = ()

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def describe(self) -> str:
        return (f"nbq {' '.join(self.args)} -> exit {self.code}\n"
                f"stdout:\n{self.stdout[-2000:]}\nstderr:\n{self.stderr[-3000:]}")


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


@dataclass
class Sandbox:
    root: Path
    _before: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for sub in ("work", "home", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def work(self) -> Path:
        return self.root / "work"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NBQ_", "PYTEST_", "COV_"))}
        env.update(HOME=str(self.root / "home"), TMPDIR=str(self.root / "tmp"), PYTHONPATH=str(REPO),
                   XDG_CACHE_HOME=str(self.root / "home" / ".cache"), COLUMNS="160", NO_COLOR="1")
        env.update(extra)
        return env

    def files(self) -> dict[str, str]:
        """Every file and symlink under the sandbox: relative path -> content digest (or link target)."""
        out: dict[str, str] = {}
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                path = Path(dirpath) / name
                rel = str(path.relative_to(self.root))
                if path.is_symlink():
                    out[rel] = "-> " + os.readlink(path)
                    continue
                st = path.stat()
                if not stat.S_ISREG(st.st_mode) or st.st_size > HASH_LIMIT:  # a FIFO would block; sparse GiBs
                    out[rel] = f"mode {st.st_mode:o} size {st.st_size} mtime {st.st_mtime_ns}"
                    continue
                try:
                    out[rel] = hashlib.sha1(path.read_bytes()).hexdigest()
                except OSError:
                    out[rel] = "unreadable"
        return out

    def snapshot(self) -> None:
        self._before = self.files()

    def changed(self, allowed: tuple[str, ...] = ()) -> list[str]:
        """Files created, changed or removed since snapshot() outside the `allowed` prefixes (relative to root)."""
        after = self.files()
        paths = set(after) | set(self._before)
        diff = sorted(p for p in paths if after.get(p) != self._before.get(p))
        allowed = (*allowed, NBQ_CACHE)  # nbq's own per-user build cache (Verilator objects, C-sim header)
        return [p for p in diff if not any(p == a or p.startswith(a.rstrip("/") + "/") for a in allowed)]

    def nbq(self, *args: str, cwd: Path | None = None, timeout: float = TIMEOUT_S, **env: str) -> Outcome:
        proc = subprocess.run([sys.executable, "-m", "nbq.cli", *args], cwd=cwd or self.work, env=self.env(**env),
                              capture_output=True, text=True, errors="replace", timeout=timeout,
                              preexec_fn=_limit_address_space, stdin=subprocess.DEVNULL)
        return Outcome(proc.returncode, proc.stdout, proc.stderr, tuple(args))


def assert_bad_input(out: Outcome, *needles: str) -> None:
    """Exit 2, one line on stderr starting 'nbq: error:', no traceback, naming each needle (case-insensitive)."""
    assert out.code == 2, out.describe()
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, out.describe()
    lines = out.error_lines
    assert len(lines) == 1 and lines[0].startswith("nbq: error: "), out.describe()
    for needle in needles:
        assert needle.lower() in lines[0].lower(), f"{needle!r} not named:\n{out.describe()}"


def assert_no_internal_error(out: Outcome) -> None:
    assert out.code in (0, 1, 2), out.describe()
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr, out.describe()


def files_containing(root: Path, payload: str | bytes) -> list[str]:
    """Files under root whose bytes contain payload."""
    needle = payload.encode() if isinstance(payload, str) else payload
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and not p.is_symlink() and needle in p.read_bytes())
