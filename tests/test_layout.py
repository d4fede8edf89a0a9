"""The data path in the folders: each subpackage of colorbatch holds one stage (its docstring says
what), and no module imports from a stage after its own, so the path reads in one direction:
files (discover, decode) -> inference -> scoring -> batch (plan, engine) -> video -> work
(colorize: decode -> batch -> infer -> recombine -> write; gray; score) -> api, cli, commands.
The colour maths (color, chroma bins, upsampling, hint formats, recombination) and the shared
basics (errors, defaults) sit below them all."""

import ast
import importlib.util
from pathlib import Path

import colorbatch

PACKAGE = Path(colorbatch.__file__).parent
# Lowest first: a module may import its own layer and the layers before it.
LAYERS = [
    ("colorbatch", "colorbatch.errors", "colorbatch.defaults", "colorbatch.architectures", "colorbatch.machine",
     "colorbatch.color", "colorbatch.chroma_bins", "colorbatch.upsample", "colorbatch.hints", "colorbatch.recombine",
     "colorbatch.samples"),
    ("colorbatch.files",),
    ("colorbatch.inference",),
    ("colorbatch.scoring",),
    ("colorbatch.batch",),
    ("colorbatch.video",),
    ("colorbatch.work",),
    ("colorbatch.api", "colorbatch.cli", "colorbatch.__main__", "colorbatch.commands", "colorbatch.studio",
     "colorbatch.train", "colorbatch.export"),
]
STAGES = ("files", "inference", "scoring", "batch", "video", "work", "commands")


def _layer(module: str) -> int:
    best = None
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (best is None or len(name) > len(best[1])):
                best = (index, name)
    assert best is not None, f"{module} has no layer: add it to LAYERS"
    return best[0]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level:  # relative: resolved against the module's package
                package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                name = importlib.util.resolve_name("." * node.level + name, package)
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "colorbatch" or name.startswith("colorbatch.")}


def _known(name: str) -> bool:
    """Whether ``name`` is a module or package of colorbatch (not a function imported from one)."""
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def test_no_module_imports_from_a_stage_after_its_own():
    backwards = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":  # the package's door: Colorizer, lazily, from the API
            continue
        module = _module_name(path)
        own = _layer(module)
        for imported in sorted(_imports(path, module)):
            if _known(imported) and _layer(imported) > own:
                backwards.append(f"{module} imports {imported}")
    assert not backwards, backwards


def test_each_stage_is_a_package_that_says_what_it_holds():
    for stage in STAGES:
        init = PACKAGE / stage / "__init__.py"
        assert init.is_file(), stage
        assert len(ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or "") > 40, stage
    flat = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert len(flat) <= 15, f"the package's top level is a room again: {flat}"


def test_what_users_import_stays_where_it_was():
    import subprocess
    import sys

    from colorbatch import Colorizer, DaskDistributor
    from colorbatch.api import Colorizer as api_colorizer
    from colorbatch.batch.cluster import DaskDistributor as cluster_distributor

    assert Colorizer is api_colorizer and DaskDistributor is cluster_distributor
    light = subprocess.run([sys.executable, "-c", "import sys, colorbatch; print(sorted(m for m in sys.modules "
                            "if m.startswith(('onnxruntime', 'torch', 'colorbatch.'))))"],
                           capture_output=True, text=True, check=True)
    assert light.stdout.strip() == "[]"  # importing the package alone loads neither runtime nor torch
