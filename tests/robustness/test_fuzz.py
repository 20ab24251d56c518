"""The bounded mutation fuzz run (200 derandomized cases) under a 2 GiB address-space limit.

The long run is a benchmark: python bench/fuzz.py."""

import subprocess
import sys

from harness import ADDRESS_SPACE_LIMIT, REPO


def _limit() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def test_200_mutated_models_and_boards_keep_the_error_contract(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "robustness" / "fuzz.py"), "--cases", "200"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=1200, preexec_fn=_limit,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path),
                               "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    assert "exit codes {0:" in proc.stdout  # some mutants still compile: the fuzzer reaches the back ends
