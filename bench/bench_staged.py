"""Staged-scan benchmark: ``hvscan staged`` (the pre-commit hook) against its peers, start-up
included, in one run.

    PATH=/path/to/peers:$PATH python bench/bench_staged.py [--rounds 40]

A repository with one committed file of typical size (8 KiB of Python-like text from a fixed
seed) and an edit of it staged is scanned by:

  hvscan staged                    installed non-editable into bench/work/venv, as pip and
                                   pre-commit install it (compiled bytecode); --hvscan overrides
  hvscan staged --format text      the same answer through the full command line (any option
                                   skips the fast path): what the fast path saves
  kingfisher scan --staged         with a rule file for these keys only
  gitleaks git --staged            with a config for these keys only; also `protect --staged`
  detect-secrets-hook FILE         its default plugins plus one for these keys
  git secrets --pre_commit_hook    what its hook runs (pattern for these keys); if installed
  python -c pass                   hvscan's interpreter doing nothing: the floor of any Python tool

in two cases: "clean" (nothing to report: the commit goes through) and "key" (the staged edit adds
a key: the commit is blocked). Before timing, every tool's exit code is checked in both cases, so
a fast wrong answer cannot win. Commands run round-robin (each once per round), so load from other
processes on a shared machine hits them alike; the table shows the median and minimum wall time
and the median CPU time (user + system, the tool's child processes included).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT / "tests"))

from gitrepo import GitRepo, git_env  # noqa: E402
from harness import find_tool, loadavg, timed  # noqa: E402
from keygen import make_key  # noqa: E402
from peers import GITLEAKS_CONFIG, KINGFISHER_RULES  # noqa: E402

FILE_SIZE = 8 * 1024
PEERS = ("kingfisher", "gitleaks", "detect-secrets-hook", "git-secrets")
DETECT_SECRETS_PLUGIN = '''\
import re

from detect_secrets.plugins.base import RegexBasedDetector


class HesedVidDetector(RegexBasedDetector):
    """HesedVid API keys."""

    secret_type = "HesedVid API key"
    denylist = [re.compile(r"hv_(?:live|test)_[A-Za-z0-9]{32}(?![A-Za-z0-9])")]
'''
GIT_SECRETS_PATTERN = "hv_(live|test)_[A-Za-z0-9]{32}([^A-Za-z0-9]|$)"


@dataclass
class Command:
    name: str
    argv: list[str]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "work" / "staged")
    parser.add_argument("--hvscan", help="an installed hvscan (default: install this checkout "
                                         "into WORK/venv)")
    for peer in PEERS:
        parser.add_argument(f"--{peer}", default=find_tool(peer))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    hvscan = args.hvscan or install_hvscan(args.work / "venv")
    python = str(Path(hvscan).parent / "python")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {loadavg()}")
    print(f"python: {subprocess.run([python, '-VV'], capture_output=True, text=True).stdout}")
    results = {}
    for case in ("clean", "key"):
        repo = make_repo(args.work / case, with_key=case == "key")
        commands = peer_commands(args, hvscan, python, repo)
        check(commands, repo, case)
        time_round_robin(commands, repo, args.rounds)
        results[case] = commands
    print_table(results, args.rounds)


def install_hvscan(venv: Path) -> str:
    """This checkout installed as users get it: a wheel, with compiled bytecode."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(ROOT)], check=True)
    else:
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-deps",
                        "--force-reinstall", str(ROOT)], check=True)
    return str(venv / "bin" / "hvscan")


def make_repo(path: Path, *, with_key: bool) -> GitRepo:
    shutil.rmtree(path, ignore_errors=True)
    repo = GitRepo(path, git_env(path.parent))
    source = python_like_text(FILE_SIZE)
    repo.commit_file("service.py", source, "service")
    lines = source.splitlines(keepends=True)
    middle = len(lines) // 2
    edit = (f"API_KEY = '{make_key('live', 7)}'\n" if with_key
            else "API_KEY = os.environ['HESEDVID_API_KEY']\n")
    repo.write("service.py", "".join([*lines[:middle], edit, *lines[middle:]]))
    repo.add("service.py")
    return repo


def python_like_text(size: int) -> str:
    rng = random.Random(1)
    words = ("value", "request", "client", "result", "config", "items", "index", "name",
             "retry", "timeout", "payload", "session", "cache", "record", "limit", "offset")
    out = ["import os\n\n"]
    while sum(map(len, out)) < size:
        name = "_".join(rng.sample(words, 2))
        out.append(f"def {name}_{rng.randrange(1000)}({rng.choice(words)}, "
                   f"{rng.choice(words)}=None):\n")
        out.append(f'    """Return the {rng.choice(words)} for {rng.choice(words)}."""\n')
        for _ in range(rng.randrange(2, 6)):
            out.append(f"    {rng.choice(words)} = {rng.choice(words)}.get("
                       f"'{rng.choice(words)}', {rng.randrange(100)})\n")
        out.append(f"    return {rng.choice(words)}\n\n\n")
    return "".join(out)[:size].rsplit("\n", 1)[0] + "\n"


def peer_commands(args: argparse.Namespace, hvscan: str, python: str,
                  repo: GitRepo) -> list[Command]:
    """hvscan, the floor and each peer that is found; a line for each that is not."""
    work = repo.path.parent
    commands = [
        Command("hvscan staged", [hvscan, "staged"]),
        Command("hvscan staged --format text", [hvscan, "staged", "--format", "text"]),
        Command("python -c pass", [python, "-c", "pass"]),
    ]
    if args.kingfisher:
        rules = work / "kingfisher-hesedvid.yml"
        rules.write_text(KINGFISHER_RULES)
        commands.append(Command("kingfisher --staged", [
            args.kingfisher, "scan", ".", "--staged", "--no-update-check", "--no-validate",
            "--load-builtins", "false", "--rules-path", str(rules), "--no-extract-archives",
            "--format", "json", "--quiet"]))
    else:
        peer_missing("kingfisher")
    if args.gitleaks:
        config = work / "gitleaks-hesedvid.toml"
        config.write_text(GITLEAKS_CONFIG)
        for sub in (["git", "--staged"], ["protect", "--staged"]):
            commands.append(Command(f"gitleaks {' '.join(sub)}", [
                args.gitleaks, *sub, "--no-banner", "--config", str(config), "."]))
    else:
        peer_missing("gitleaks")
    if args.detect_secrets_hook:
        plugin = work / "hesedvid_plugin.py"
        plugin.write_text(DETECT_SECRETS_PLUGIN)
        commands.append(Command("detect-secrets-hook", [
            args.detect_secrets_hook, "--plugin", str(plugin), "service.py"]))
    else:
        peer_missing("detect-secrets-hook")
    if args.git_secrets:
        repo.git("config", "secrets.patterns", GIT_SECRETS_PATTERN)
        commands.append(Command("git secrets (pre-commit hook)", [args.git_secrets,
                                                                 "--pre_commit_hook"]))
    else:
        peer_missing("git-secrets")
    return commands


def peer_missing(peer: str) -> None:
    print(f"peer missing: {peer} (put it on PATH or pass --{peer} PATH)")


def check(commands: list[Command], repo: GitRepo, case: str) -> None:
    for command in commands:
        done = subprocess.run(command.argv, cwd=repo.path, env=repo.env, capture_output=True,
                              check=False)
        if not right_answer(command.name, case, done.returncode):
            sys.exit(f"bench: {command.name} exits {done.returncode} in the {case} case: "
                     f"{done.stderr.decode(errors='replace')[-400:]}")
        print(f"checked ({case}): {command.name} exits {done.returncode}")


def right_answer(name: str, case: str, code: int) -> bool:
    """Clean: exit 0. Key: hvscan exits 1; a peer exits with its own "found" code (not 0, and
    not 2, which they use for errors as hvscan does)."""
    if case == "clean" or name.startswith("python"):
        return code == 0
    return code == 1 if name.startswith("hvscan") else code not in (0, 2)


def time_round_robin(commands: list[Command], repo: GitRepo, rounds: int) -> None:
    for _ in range(rounds):
        for command in commands:
            wall, cpu, _ = timed(command.argv, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, cwd=repo.path, env=repo.env)
            command.wall.append(wall)
            command.cpu.append(cpu)


def print_table(results: dict[str, list[Command]], rounds: int) -> None:
    print(f"\n{rounds} rounds; milliseconds; wall median (min) / CPU median")
    names = [c.name for c in results["clean"]]
    print(f"| command | {' | '.join(f'{case}: wall (min) / CPU' for case in results)} |")
    print("| --- |" + " --- |" * len(results))
    for name in names:
        cells = []
        for commands in results.values():
            command = next(c for c in commands if c.name == name)
            cells.append(f"{ms(statistics.median(command.wall))} ({ms(min(command.wall))}) / "
                         f"{ms(statistics.median(command.cpu))}")
        print(f"| {name} | {' | '.join(cells)} |")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


if __name__ == "__main__":
    main()
