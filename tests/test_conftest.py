"""The shared fixtures keep the caller's environment out of the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def test_the_callers_settings_do_not_reach_the_tests(tmp_path: Path) -> None:
    # A few tests that run hvscan and git, run by a pytest whose caller set what would change
    # their outcome: a stricter --fail-on, an API base hvscan refuses, a git directory that
    # does not exist, colour off.
    caller = {"HVSCAN_FAIL_ON": "critical", "HESEDVID_API_BASE": "http://example.invalid",
              "GIT_DIR": str(tmp_path / "nonexistent"), "NO_COLOR": "1",
              "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    tests = [f"{TESTS / 'test_cli.py'}::test_stdin",
             f"{TESTS / 'test_cli_git.py'}::test_clean_history_exits_zero",
             f"{TESTS / 'test_cli_git.py'}::test_default_repository_is_the_one_containing_the_"
             "current_directory"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *tests], cwd=tmp_path, env=caller, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 passed" in done.stdout
