"""Each core module's mutation score from the last `mutmut run`, its survivors, and the goal.

mutmut leaves one ``mutants/<module>.py.meta`` per mutated module: the exit code of the unit
tests for each of its mutants. A mutant is killed when a test failed (or timed out, or the code
no longer type-checked); it survived when every test passed, and it is untested when no test
reaches its function. A module's score is killed / (mutants - equivalent), where the equivalent
mutants are those docs/TESTING.md names, each with the reason no behaviour can tell it apart.
The report fails when a module scores below the goal, or when a survivor is not explained.

    python .ci/mutation_report.py [--goal 90] [--mutants mutants] [--explained docs/TESTING.md]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

KILLED_CODES = {1, 3, -24, 24, 36, 37, 152, 255}
SURVIVED_CODES = {0}
UNTESTED_CODES = {5, 33}
#: How docs/TESTING.md names a mutant: in backticks, as mutmut does.
MUTANT_NAME = re.compile(r"`([\w.ǁ]+__mutmut_\d+)`")


def outcome(exit_code: int | None) -> str:
    if exit_code in KILLED_CODES:
        return "killed"
    if exit_code in SURVIVED_CODES:
        return "survived"
    if exit_code in UNTESTED_CODES:
        return "untested"
    return "not run" if exit_code is None else "suspicious"


def results(mutants: Path) -> dict[str, dict[str, str]]:
    """Each mutated module's mutants and their outcomes."""
    by_module: dict[str, dict[str, str]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        module = str(meta.relative_to(mutants)).removesuffix(".meta")
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        by_module[module] = {name: outcome(code) for name, code in codes.items()}
    return by_module


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--goal", type=float, default=90.0, help="lowest score a module may have, in %%")
    parser.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's working folder")
    parser.add_argument("--explained", type=Path, default=Path("docs/TESTING.md"))
    args = parser.parse_args()
    by_module = results(args.mutants)
    if not by_module:
        print(f"no mutation results in {args.mutants}/: run `make mutate` first", file=sys.stderr)
        return 2
    equivalent = set(MUTANT_NAME.findall(args.explained.read_text(encoding="utf-8")))
    print(
        f"{'module':<34} {'mutants':>7} {'not run':>7} {'killed':>6} {'equiv.':>6} {'left':>5} {'score':>7}"
    )
    failing, unexplained = [], []
    for module, outcomes in by_module.items():
        counts = Counter(outcomes.values())
        if not outcomes or counts["not run"] == len(outcomes):
            continue  # nothing to mutate, or not run this time
        survivors = sorted(n for n, o in outcomes.items() if o not in {"killed", "not run"})
        explained = [n for n in survivors if n in equivalent]
        unexplained += [(n, outcomes[n]) for n in survivors if n not in equivalent]
        judged = len(outcomes) - counts["not run"] - len(explained)
        score = 100.0 * counts["killed"] / judged if judged else 100.0
        if score < args.goal and not counts["not run"]:  # a module run in part is not judged yet
            failing.append(module)
        left = len(survivors) - len(explained)
        row = f"{len(outcomes):>7} {counts['not run']:>7} {counts['killed']:>6} {len(explained):>6} {left:>5}"
        row += f" {score:>6.1f}%"
        print(f"{module:<34} {row}")
    total = Counter(o for outcomes in by_module.values() for o in outcomes.values())
    print(f"\nall: {sum(total.values())} mutants, " + ", ".join(f"{n} {o}" for o, n in total.most_common()))
    if unexplained:
        print("\nnot killed and not explained in", args.explained, "(see one with `mutmut show NAME`):")
        for name, what in unexplained:
            print(f"  {what:<10} {name}")
    if failing:
        print(f"\nbelow the goal of {args.goal:g} %: {', '.join(failing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
