"""`make audit`: the locked versions against PyPI's vulnerability service, through pip-audit.

Fails on any known vulnerability. A dependency the service has no data for cannot be judged:
each is listed, and when none at all could be looked up (a PyPI mirror that serves packages but
not the per-version JSON the service answers from), the run says so loudly instead of reporting
"no known vulnerabilities", which would then mean nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def main(lock: Path) -> int:
    found = subprocess.run(
        [
            sys.executable, "-m", "pip_audit", "--requirement", str(lock), "--no-deps",
            "--vulnerability-service", "pypi", "--format", "json", "--progress-spinner", "off",
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    try:
        report = json.loads(found.stdout)
    except json.JSONDecodeError:
        print(f"pip-audit gave no report (exit {found.returncode}):\n{found.stderr}", file=sys.stderr)
        return 2
    dependencies = report["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            print(f"VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})")
    audited = len(dependencies) - len(skipped)
    print(f"{len(dependencies)} locked packages: {audited} audited, {len(vulnerable)} vulnerable")
    if skipped:
        names = ", ".join(d["name"] for d in skipped)
        print(f"not audited (no data from the service): {names}")
    if dependencies and not audited:
        print(
            "WARNING: the vulnerability service had data for none of them; nothing was audited. "
            "PyPI's per-version JSON API is unreachable from here (a mirror?): run `make audit` where "
            "pypi.org answers it.",
            file=sys.stderr,
        )
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
