"""The house rules of the package, read from its source: imports only go down the floors declared
here, nothing closes an import circle, and no module reaches for another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "announcer"

# The floors, top first. A module may import from its own package and from any floor below its own;
# packages on one floor do not import each other.
FLOORS = (
    ("announcer.__main__",),
    ("announcer.cli",),
    ("announcer.web", "announcer.station"),
    ("announcer.build",),
    ("announcer.core",),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def floor_of(module: str) -> tuple[int, str]:
    """(floor number, the package or module on that floor) for an announcer module."""
    for number, members in enumerate(FLOORS):
        for member in members:
            if module == member or module.startswith(member + "."):
                return number, member
    raise AssertionError(f"{module} is on no floor: add it to FLOORS")


def imports(module: str) -> list[tuple[str, int, list[str]]]:
    """(imported announcer module, line, names taken from it) for every import in the module, lazy ones too."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno, []) for a in node.names if a.name.startswith("announcer")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if not base.startswith("announcer"):
                continue
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:          # a module taken from its package
                    found.append((f"{base}.{alias.name}", node.lineno, []))
                else:
                    found.append((base, node.lineno, [alias.name]))
    return found


def test_every_module_is_on_a_floor():
    for module in MODULES:
        if module != "announcer":
            floor_of(module)


def test_imports_only_go_down():
    wrong = []
    for module in MODULES:
        if module == "announcer":
            continue
        floor, member = floor_of(module)
        for target, line, _ in imports(module):
            if target == "announcer":            # the version
                continue
            to_floor, to_member = floor_of(target)
            if to_member != member and to_floor <= floor:
                wrong.append(f"{MODULES[module].relative_to(PACKAGE.parent)}:{line} {module} imports {target}")
    assert not wrong, "imports that do not go down a floor:\n" + "\n".join(wrong)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), and modules importing themselves."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1 or v in graph.get(v, ()):
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    graph = {m: {t for t, _, _ in imports(m) if t in MODULES and t != m} for m in MODULES}
    assert not cycles(graph), "import circles: " + "; ".join(" ↔ ".join(c) for c in cycles(graph))


def test_no_private_names_across_modules():
    wrong = []
    for module in MODULES:
        for target, line, names in imports(module):
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    wrong.append(f"{MODULES[module].relative_to(PACKAGE.parent)}:{line} takes {target}.{name}")
        tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("announcer"):
                for a in node.names:
                    if f"{node.module}.{a.name}" in MODULES:
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                wrong.append(f"{MODULES[module].relative_to(PACKAGE.parent)}:{node.lineno} uses "
                             f"{aliases[node.value.id]}.{node.attr}")
    assert not wrong, "private names used from another module:\n" + "\n".join(wrong)


@pytest.mark.parametrize("bad, why", [
    ({"a": {"b"}, "b": {"a"}}, "two modules"),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, "three"),
])
def test_the_circle_check_finds_circles(bad, why):
    assert cycles(bad)


def test_the_floor_check_knows_the_floors():
    assert floor_of("announcer.web.site")[0] == floor_of("announcer.station.daemon")[0] == 2
    assert floor_of("announcer.core.config.schema")[0] > floor_of("announcer.build.speech")[0]
