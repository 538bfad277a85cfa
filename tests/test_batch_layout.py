"""The batch package's boundaries: it shows nothing itself (no rich: the CLI renders its events), only its Ray engine
imports ray, and its modules share only public names (neither engine reaches into another module's privates)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline" / "batch"


def test_importing_and_validating_loads_no_ui_ray_or_torch(tmp_path):
    batch = tmp_path / "b.txt"
    batch.write_text("Storm Hits Coast\n")
    code = (
        "import sys\n"
        "from pipeline.batch import BatchFileError, validate\n"
        "try:\n"
        f"    validate({str(batch)!r})\n"
        "except BatchFileError:\n"
        "    pass\n"  # (the default providers may be missing here; reading and planning ran either way)
        "print(sorted(m for m in ('rich', 'ray', 'torch') if m in sys.modules))\n"
    )
    env = {"PYTHONPATH": str(PACKAGE.parents[1]), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_batch_modules_import_no_private_names_from_each_other():
    private = []
    for module in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                names = [a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
                private += [f"{module.name}: {name}" for name in names]
            elif isinstance(node, ast.Import):
                assert module.name == "ray_engine.py" or not any(a.name.split(".")[0] == "ray" for a in node.names)
    assert private == []
    assert not any("import ray" in m.read_text() for m in PACKAGE.glob("*.py") if m.name != "ray_engine.py")
