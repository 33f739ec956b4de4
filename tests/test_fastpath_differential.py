"""The fast path against the full command line on generated trees: files, links to directories,
configuration files at any level, HVSCAN_* variables, staged changes and option sets. Whatever
the tree, `hvscan ARGS` (the fast path first) prints byte for byte what the full command line
prints, with the same exit code."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from gitrepo import git_env
from hvscan_run import entry_and_full
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from keygen import make_key

FILES = ("real/sub/f.txt", "real/g.py", "top.txt", "a/b/h.md", "a/-dash.txt")
CONTENTS = {
    "clean": "print('hello')\n" * 20,
    "key": f"KEY = '{make_key('live', 21)}'\n",
    "test key": f"token: {make_key('test', 22)}\n",
    "needle": "keys start with hv_live_ and go on\n",
    "placeholder": f"use {'hv_test_' + 'x' * 32} in examples\n",
    "acme": "token acme_123456\n",
    "wide": "plain words\n".encode("utf-16").decode("latin-1"),
    "gitleaks allow": f"KEY = '{make_key('live', 23)}'  # gitleaks:allow\n",
    "nextline pragma": f"# pragma: allowlist nextline secret\nKEY = '{make_key('live', 24)}'\n",
    "allowed": f"KEY = '{make_key('live', 25)}'  # hvscan:allow\n",
}
EXTRA_RULE = ("[[rules]]\nid='acme'\ndescription='Acme'\nregex='acme_[0-9]{6}'\n"
              "keywords=['acme_']\nkey_type='token'\nseverity='high'\nremediation='Rotate.'\n")
CONFIGS = {
    "extra rule": 'rules = ["extra.toml"]\n',
    "exclude": 'exclude = ["sub/", "*.md"]\n',
    "fail-on": 'fail-on = "critical"\n',
    "strict": "strict = true\n",
    "no foreign markers": "foreign-allow-markers = false\n",
    "bad": 'fail-on = "loud"\n',
    "empty": "",
}
CONFIG_DIRS = (".", "real", "real/sub", "a", "a/b")
VARIABLES = ({}, {"HVSCAN_FAIL_ON": "critical"}, {"HVSCAN_EXCLUDE": "real/"},
             {"HVSCAN_MAX_FILE_SIZE": "huge"}, {"HESEDVID_ORG_ID": "not/an/org"},
             {"HVSCAN_CONFIG": "real/.hvscan.toml"}, {"HVSCAN_FOREIGN_ALLOW_MARKERS": "no"})
COMMANDS = (("staged",), ("git", "--staged"), ("dir",), ("dir", "."), ("dir", "work"),
            ("dir", "FILES"), ("dir", "--hook", "FILES"), ("dir", "work/link/f.txt"),
            ("dir", "--hook", "work/link/f.txt"), ("dir", "--format", "json", "FILES"),
            ("staged", "--exit-zero"), ("dir", "--config", "a/.hvscan.toml", "FILES"))

trees = st.fixed_dictionaries({
    "files": st.dictionaries(st.sampled_from(FILES), st.sampled_from(sorted(CONTENTS)),
                             min_size=1),
    "link": st.booleans(),
    "configs": st.dictionaries(st.sampled_from(CONFIG_DIRS), st.sampled_from(sorted(CONFIGS)),
                               max_size=2),
    "pyproject": st.sampled_from((None, "other tool", "fail-on")),
    "ignore file": st.booleans(),
    "variables": st.sampled_from(VARIABLES),
    "staged": st.sampled_from(("none", "all", "some")),
    "command": st.sampled_from(COMMANDS),
})

REPRODUCTION = {"files": {"real/sub/f.txt": "acme"}, "link": True,
                "configs": {"real": "extra rule"}, "pyproject": None, "ignore file": False,
                "variables": {}, "staged": "none", "command": ("dir", "work/link/f.txt")}


def build(root: Path, tree: dict[str, Any], env: dict[str, str]) -> list[str]:
    """Make the tree in ``root`` (a git repository); the command line to run in it."""
    subprocess.run(["git", "init", "-q", str(root)], env=env, check=True)
    for directory in ("real/sub", "a/b", "work"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    if tree["link"]:
        (root / "work" / "link").symlink_to(Path("..", "real", "sub"))
    for name, content in tree["files"].items():
        (root / name).write_bytes(CONTENTS[content].encode("latin-1" if content == "wide"
                                                          else "utf-8"))
    for directory, config in tree["configs"].items():
        (root / directory / ".hvscan.toml").write_text(CONFIGS[config])
        (root / directory / "extra.toml").write_text(EXTRA_RULE)
    if tree["pyproject"] is not None:
        table = ("[tool.black]\nline-length = 90\n" if tree["pyproject"] == "other tool"
                 else '[tool.hvscan]\nfail-on = "critical"\n')
        (root / "pyproject.toml").write_text(table)
    if tree["ignore file"]:
        (root / ".hvscanignore").write_text("# nothing ignored\n")
    names = sorted(tree["files"])
    staged = {"none": [], "all": names, "some": names[:1]}[tree["staged"]]
    if staged:
        subprocess.run(["git", "add", "--", *staged], cwd=root, env=env, check=True)
    args: list[str] = []
    for arg in tree["command"]:
        args.extend(names if arg == "FILES" else [arg])
    return args


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@example(REPRODUCTION)
# Other scanners' markers: honoured by the default scan the fast path runs itself, and turned
# off by a configuration file or a variable, which send it to the full command line.
@example({**REPRODUCTION, "files": {"real/g.py": "gitleaks allow", "top.txt": "nextline pragma",
                                    "a/b/h.md": "allowed"}, "configs": {}, "staged": "all",
          "command": ("staged",)})
@example({**REPRODUCTION, "files": {"real/g.py": "gitleaks allow", "top.txt": "nextline pragma"},
          "configs": {}, "command": ("dir",)})
@example({**REPRODUCTION, "files": {"real/g.py": "gitleaks allow", "top.txt": "nextline pragma"},
          "configs": {".": "no foreign markers"}, "command": ("dir", "FILES")})
@example({**REPRODUCTION, "files": {"real/g.py": "gitleaks allow"}, "configs": {},
          "variables": {"HVSCAN_FOREIGN_ALLOW_MARKERS": "no"}, "staged": "all",
          "command": ("git", "--staged")})
@given(trees)
def test_the_fast_path_and_the_full_command_line_agree(tree: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary, "repo")
        env = {**git_env(Path(temporary, "home")), **tree["variables"]}
        args = build(root, tree, env)
        done, _ = entry_and_full(root, *args, env=env)
        assert done.returncode in (0, 1, 2), done
