"""The long mutation-fuzz run: many more cases than CI's 200, every broken contract listed.

    python bench/fuzz.py [--cases 3000] [--seed N]

Mutates valid models and board files (tests/robustness/fuzz.py), runs the nbq CLI on each under a 2 GiB
address-space limit, and writes bench/results/fuzz.json and fuzz.md: the cases run, the exit codes seen,
and each broken contract (exit 3, a traceback, more than one error line, a write outside the output
folder, a hostile name written raw) with an example. Exit status 1 if any contract broke.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "robustness"))
RESULTS = REPO / "bench" / "results"
ADDRESS_SPACE_LIMIT = 2 << 30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1, help="random seed (CI runs the derandomized 200)")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
    import fuzz

    start = time.perf_counter()
    broken = fuzz.fuzz(args.cases, args.seed, collect=True)
    seconds = time.perf_counter() - start
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"cases": args.cases, "seed": args.seed, "seconds": round(seconds, 1),
            "address_space_limit_bytes": ADDRESS_SPACE_LIMIT,
            "broken": {kind: {"count": len(ex), "example": ex[0]} for kind, ex in broken.items()}}
    (RESULTS / "fuzz.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    lines = [f"# Mutation fuzz: {args.cases} cases (seed {args.seed}), {seconds:.0f} s, 2 GiB address space", ""]
    if not broken:
        lines.append("No broken contract: every case ended in exit 0 or a one-line exit-2 error, wrote only its "
                     "output folder and no hostile name raw.")
    for kind, ex in sorted(broken.items(), key=lambda kv: -len(kv[1])):
        lines += [f"- {len(ex)} x `{kind}`", f"  e.g. `{ex[0]}`"]
    (RESULTS / "fuzz.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
