"""Running the rule tools on exported rules: their own tests, and a rule applied to files.

Used by the tests and the export bench to hold an exported rule to the skill it came from; the
tools are found next to the running Python (a virtual environment's bin/) or on PATH, semgrep
first in the checkout's own tools environment (see semgrep()).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def tool(name: str, env_var: str | None = None) -> str | None:
    """The path of a command-line tool: $env_var, beside this Python, or on PATH."""
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    return shutil.which(name)


def ast_grep() -> str | None:
    return tool("ast-grep", "KENETIC_AST_GREP")


def ast_grep_test(project: Path, binary: str) -> tuple[bool, str]:
    """`ast-grep test` on an exported project folder (its sgconfig.yml): (passed, output)."""
    done = subprocess.run(
        [binary, "test", "--skip-snapshot-tests", "-c", str(project / "sgconfig.yml")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
    )
    return done.returncode == 0, done.stdout + done.stderr


def ast_grep_apply(rule: Path, target: Path, binary: str) -> str:
    """Apply one rule to every file under target in place (`ast-grep scan --update-all`)."""
    done = subprocess.run(
        [binary, "scan", "-r", str(rule), "--update-all", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"ast-grep scan failed: {done.stderr.strip()[:500]}")
    return done.stdout + done.stderr


# where `make test-export-deps` (tests/export/setup_semgrep.sh) installs semgrep in a checkout:
# a virtual environment of its own, as its pins conflict with the agent extra's
TOOLS_SEMGREP = Path(__file__).resolve().parents[2] / ".venv-tools" / "semgrep" / "bin" / "semgrep"


def semgrep() -> str | None:
    """semgrep is not a dependency of the project's environment: KENETIC_SEMGREP names one
    installed elsewhere, else the checkout's .venv-tools/semgrep, else beside Python or PATH."""
    if os.environ.get("KENETIC_SEMGREP"):
        return os.environ["KENETIC_SEMGREP"]
    if TOOLS_SEMGREP.exists():
        return str(TOOLS_SEMGREP)
    return tool("semgrep")


# semgrep never reaches the network from kenetic: no metrics, no version check, local configs only
SEMGREP_OFFLINE = ["--metrics=off", "--disable-version-check", "--quiet"]
SEMGREP_ENV = {"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}


def _semgrep_env() -> dict[str, str]:
    return {**os.environ, **SEMGREP_ENV}


def semgrep_test(folder: Path, binary: str) -> tuple[bool, str]:
    """`semgrep --test` on a folder of rules with their annotated targets: (passed, output)."""
    done = subprocess.run(
        [binary, "--test", *SEMGREP_OFFLINE, "--config", str(folder), str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_semgrep_env(),
    )
    return done.returncode == 0, done.stdout + done.stderr


def semgrep_apply(rule: Path, target: Path, binary: str) -> str:
    """Apply one rule's fix to every file under target in place (`semgrep --autofix`)."""
    done = subprocess.run(
        [binary, "scan", *SEMGREP_OFFLINE, "--config", str(rule), "--autofix", str(target)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_semgrep_env(),
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"semgrep failed: {done.stderr.strip()[-500:]}")
    return done.stdout + done.stderr
