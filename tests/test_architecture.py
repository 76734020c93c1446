"""The package's shape (shared/docs/architecture.md): imports run one way, heavy libraries stay in their rooms."""

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "gazelab"
ORDER = ["acquisition", "preprocessing", "datasets", "analysis", "models"]
FACES = {"cli", "demo", "__main__"}
HARDWARE = {"psychopy", "pylink", "cv2", "mediapipe"}
# The one exception, by design (architecture.md, "the replay link"): the stand-in for pylink's EyeLink
# object serves a recorded file, which it reads with the preprocessing readers at call time.
LATER_STAGE_ALLOWED = {("acquisition/trackers/eyelink_replay.py", "preprocessing")}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_stages_import_only_earlier_stages_and_never_faces():
    problems = []
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG).parts
        in_face = rel[0].removesuffix(".py") in FACES  # the cli package and the demo module
        stage = rel[0] if len(rel) > 1 and not in_face else None
        for name in _imports(f):
            parts = name.split(".")
            if parts[0] in HARDWARE and stage != "acquisition":
                problems.append(f"{f}: imports {name} outside acquisition")
            if parts[0] != "gazelab" or len(parts) < 2:
                continue
            if parts[1] in FACES and not in_face:
                problems.append(f"{f}: imports the face {name}")
            if stage in ORDER and parts[1] in ORDER and ORDER.index(parts[1]) > ORDER.index(stage):
                if (f.relative_to(PKG).as_posix(), parts[1]) in LATER_STAGE_ALLOWED:
                    continue
                problems.append(f"{f}: stage {stage} imports later stage {name}")
    assert not problems, "\n".join(problems)


def test_every_module_belongs_to_a_stage_the_base_or_a_face():
    base = {"__init__", "_io", "errors", "geometry"}
    loose = [f.name for f in PKG.glob("*.py") if f.stem not in base | FACES]
    stages = {d.name for d in PKG.iterdir() if d.is_dir() and (d / "__init__.py").is_file()}
    assert not loose, f"modules outside every stage: {loose}"
    assert stages == set(ORDER) | {"cli"}


def test_core_imports_need_no_heavy_library():
    code = (
        "import sys, gazelab, gazelab.preprocessing, gazelab.datasets, gazelab.cli;"
        "bad = {'torch', 'psychopy', 'pylink', 'cv2', 'mediapipe', 'torchvision'} & set(sys.modules);"
        "print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
