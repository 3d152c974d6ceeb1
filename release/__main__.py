"""The release commands: ``python -m release check | lowest | publish-dry-run | bump VERSION``.

``make release-check``, ``make test-lowest`` and ``make publish-dry-run`` run them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from release import lowest
from release.build import UV, build_all, twine_check
from release.bump import bump
from release.changelog import check_changelog
from release.install import INSTALL_CASES, install_alone
from release.metadata import URL_BASE, check_complete, check_versions, read_wheel_metadata
from release.workspace import CORE, ROOT, load_packages, workspace_pin


def static_checks(files: list[Path]) -> list[str]:
    """Every package built, metadata complete, versions and core constraints consistent, READMEs render."""
    wheels = [f for f in files if f.suffix == ".whl"]
    metadatas = [read_wheel_metadata(w) for w in wheels]
    built = {m["Name"] for m in metadatas}
    problems = [f"{p.name}: no wheel built" for p in load_packages() if p.name not in built]
    for metadata in metadatas:
        problems += check_complete(metadata)
    problems += check_versions(metadatas)
    core_version = next((m["Version"] for m in metadatas if m["Name"] == CORE), "")
    problems += check_changelog((ROOT / "CHANGELOG.md").read_text(), core_version)
    if not twine_check(files):
        problems.append("twine check --strict failed (a README does not render; see above)")
    print(f"NOTE: project URLs are under the placeholder {URL_BASE} (docs/releasing.md: replace before uploading)")
    return problems


def check() -> int:
    """Build, check metadata, then install each wheel alone; print each install's time and size."""
    files = build_all()
    problems = static_checks(files)
    wheels = {read_wheel_metadata(w)["Name"]: w for w in files if w.suffix == ".whl"}
    airflow = workspace_pin("apache-airflow")
    print(f"\nEach wheel alone in a fresh virtual environment with {airflow}:")
    print(f"  {'install':<40} {'seconds':>8} {'MB':>6} {'dists':>6}  modules imported")
    for case in INSTALL_CASES:
        result = install_alone(case, wheels, airflow, UV)
        size = result.size_bytes / 1e6
        line = f"{case.label:<40} {result.install_seconds:>8.1f} {size:>6.0f} {result.distributions:>6}"
        print(f"  {line}  {len(result.modules)}", flush=True)
        problems += result.problems
    return _verdict(problems)


def publish_dry_run() -> int:
    """Build and check, then show what ``uv publish`` would upload, without uploading anything."""
    files = build_all()
    problems = static_checks(files)
    if problems:
        return _verdict(problems)
    print("\nDry run: nothing is uploaded.")
    command: list[str | Path] = [UV, "publish", "--dry-run", "--trusted-publishing", "never", *files]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def _verdict(problems: list[str]) -> int:
    if problems:
        print("\nRelease check FAILED:", *problems, sep="\n  ")
        return 1
    print("\nRelease check passed.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status."""
    parser = argparse.ArgumentParser(prog="python -m release", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="build, check metadata, install each wheel alone")
    commands.add_parser("lowest", help="the packages' fast tests at lowest-direct versions").add_argument(
        "pytest_args", nargs="*"
    )
    commands.add_parser("publish-dry-run", help="build, check, and show what would be uploaded")
    commands.add_parser("bump", help="set every package's version and core bound, then uv lock").add_argument("version")
    args = parser.parse_args(argv)
    if args.command == "bump":
        for path in bump(args.version):
            print(f"bumped {path.relative_to(ROOT)}")
        return subprocess.run([UV, "lock"], cwd=ROOT, check=False).returncode
    if args.command == "check":
        return check()
    if args.command == "lowest":
        return lowest.run(args.pytest_args)
    return publish_dry_run()


if __name__ == "__main__":
    sys.exit(main())
