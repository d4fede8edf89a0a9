"""The documentation a person reads: a README that is a front door, every page of docs/ reachable
from it, every relative link and image resolving (anchors too), and the command reference
generated from the commands' own --help (it cannot drift from the code)."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "benchmarks" / "README.md",
         ROOT / "colorbatch" / "models" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # not inside code blocks
    return [target for target in LINK.findall(text) if not re.match(r"^(https?:|mailto:)", target)]


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a Markdown page's headings."""
    found = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_every_relative_link_and_image_resolves():
    broken = []
    for page in PAGES:
        for target in _links(page):
            path, _, anchor = target.partition("#")
            resolved = page if not path else (page.parent / path).resolve()
            if not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, broken


def test_the_readme_is_a_front_door_that_reaches_every_page():
    readme = ROOT / "README.md"
    assert len(readme.read_text(encoding="utf-8").splitlines()) <= 200
    reached, todo = set(), [readme]
    while todo:
        page = todo.pop()
        for target in _links(page):
            path = target.partition("#")[0]
            linked = (page.parent / path).resolve() if path else page
            if linked.suffix == ".md" and linked.exists() and linked not in reached:
                reached.add(linked)
                todo.append(linked)
    missing = [p.relative_to(ROOT).as_posix() for p in PAGES if p != readme and p.resolve() not in reached]
    assert not missing, f"pages no link from the README reaches: {missing}"


def test_the_command_reference_is_generated_from_the_current_help():
    spec = importlib.util.spec_from_file_location("make_reference", ROOT / "docs" / "make_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    assert current == module.reference(), "docs/commands.md is out of date: run python docs/make_reference.py"
    assert "## colorbatch run" in current and "--dry-run" in current
