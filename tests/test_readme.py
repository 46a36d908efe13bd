"""The README's Python blocks run as written, and its quick start has exactly two commands."""

import re
from pathlib import Path

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}  # the blocks are one session, run in order
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["report"].n_correct == 80_000
    assert namespace["d"] == 24
    assert namespace["hop_report"].n_correct == 27_000
    assert namespace["d_one_pass"] == 100


def test_quick_start_commands_match_ci():
    quick_start = README.split("## Quick start")[1].split("\n## ")[0]
    commands = re.findall(r"```\n(.*?)\n```", quick_start, flags=re.DOTALL)
    assert len(commands) == 2
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_generated_blocks_are_up_to_date():
    import subprocess
    import sys

    tool = Path(__file__).parent.parent / "tools" / "render_readme.py"
    result = subprocess.run(
        [sys.executable, str(tool), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
