"""Mutation testing of a fixed sample of the core, small enough for every CI run.

`make mutate` judges the whole core (an hour on two cores); CI judges these modules with the
unit tests that aim at them, in a copy of the repository whose mutmut settings name only them,
and fails when one scores below the goal (docs/TESTING.md).

    python .ci/mutate_sample.py [--goal 90]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The modules judged on every run, and the unit tests that judge them.
SAMPLE = {
    "notifiers/silences.py": ["tests/notifiers/test_silences.py", "tests/notifiers/test_lifecycle.py"],
    "notifiers/routing.py": ["tests/notifiers/test_routing.py"],
    "rules/alerting.py": ["tests/rules/test_boundaries.py", "tests/rules/test_alerting.py"],
}


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def sample_settings(pyproject: str) -> str:
    """The project's mutmut settings with the sample's modules and tests only."""
    tests = sorted({test for module_tests in SAMPLE.values() for test in module_tests})
    replaced = re.sub(r"(?ms)^only_mutate = \[.*?^\]", f"only_mutate = {toml_list(list(SAMPLE))}", pyproject)
    replaced = re.sub(
        r"(?ms)^pytest_add_cli_args_test_selection = \[.*?^\]",
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}",
        replaced,
    )
    moved = replaced.count(toml_list(list(SAMPLE))) != 1 or toml_list(tests) not in replaced
    assert not moved, "[tool.mutmut] in pyproject.toml no longer has the shape this script edits"
    return replaced


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--goal", type=float, default=90.0)
    args = parser.parse_args()
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True)
        .stdout.decode()
        .split("\0")
    )
    with tempfile.TemporaryDirectory(prefix="envalert-mutate-") as folder:
        copy = Path(folder)
        for name in filter(None, tracked):
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
        pyproject = copy / "pyproject.toml"
        pyproject.write_text(sample_settings(pyproject.read_text(encoding="utf-8")), encoding="utf-8")
        bin_dir = Path(sys.executable).parent
        run = subprocess.run(
            [bin_dir / "mutmut", "run"], cwd=copy, capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n", file=sys.stderr)
            return run.returncode
        report = [sys.executable, ".ci/mutation_report.py", "--goal", str(args.goal)]
        return subprocess.run(report, cwd=copy, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
