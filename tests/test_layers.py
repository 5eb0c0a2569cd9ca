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
    ("announcer.web", "announcer.station", "announcer.district"),
    ("announcer.build",),
    ("announcer.core",),
)
# Packages that never import each other although their floors would allow it: the station plays what
# the build left in the library, and needs none of its code.
APART = (("announcer.station", "announcer.build"),)


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


def imports(module: str) -> list[tuple[str, int, list[str], str | None]]:
    """(imported announcer module, line, names taken from it, the name it is bound to) for every import in
    the module, lazy ones and importlib.import_module("...") too."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno, [], a.asname) for a in node.names if a.name.startswith("announcer")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if not base.startswith("announcer"):
                continue
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:          # a module taken from its package
                    found.append((f"{base}.{alias.name}", node.lineno, [], alias.asname or alias.name))
                else:
                    found.append((base, node.lineno, [alias.name], None))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and node.args[0].value.startswith("announcer")
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__")))):
            found.append((node.args[0].value, node.lineno, [], None))
    return found


def test_every_module_is_on_a_floor():
    for module in MODULES:
        if module != "announcer":
            floor_of(module)
    assert [t for t, _, _, _ in imports("announcer")] == []       # the package itself only has its version


def test_imports_only_go_down():
    wrong = []
    for module in MODULES:
        if module == "announcer":
            continue
        floor, member = floor_of(module)
        for target, line, _, _ in imports(module):
            if target == "announcer":            # the version
                continue
            to_floor, to_member = floor_of(target)
            if (to_member != member and to_floor <= floor) or (member, to_member) in APART \
                    or (to_member, member) in APART:
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
    graph = {m: {t for t, _, _, _ in imports(m) if t in MODULES and t != m} for m in MODULES}
    assert not cycles(graph), "import circles: " + "; ".join(" ↔ ".join(c) for c in cycles(graph))


def test_no_private_names_across_modules():
    wrong = []
    for module in MODULES:
        where = MODULES[module].relative_to(PACKAGE.parent)
        aliases = {}
        for target, line, names, bound in imports(module):
            wrong += [f"{where}:{line} takes {target}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
            if bound and target in MODULES:
                aliases[bound] = target
        for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
                chain = _dotted(node.value)
                if chain in aliases or (chain or "").startswith("announcer."):
                    wrong.append(f"{where}:{node.lineno} uses {aliases.get(chain, chain)}.{node.attr}")
    assert not wrong, "private names used from another module:\n" + "\n".join(wrong)


def _dotted(node) -> str | None:
    """`a.b.c` for a chain of names and attributes, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


def test_the_private_name_check_sees_aliases_and_relative_imports(monkeypatch):
    probe = PACKAGE / "web" / "_layers_probe.py"
    MODULES["announcer.web._layers_probe"] = probe
    monkeypatch.setattr(Path, "read_text", lambda self, **kw: (
        "import announcer.core.control as cc\nfrom . import site\nimport announcer\n"
        "cc._held\nsite._language\nannouncer.core.control._held\n") if self == probe else _read(self, **kw))
    try:
        with pytest.raises(AssertionError) as caught:
            test_no_private_names_across_modules()
    finally:
        del MODULES["announcer.web._layers_probe"]
    said = str(caught.value)
    assert "announcer.core.control._held" in said and "announcer.web.site._language" in said
    assert all(f"_layers_probe.py:{line} uses" in said for line in (4, 5, 6))


_read = Path.read_text


@pytest.mark.parametrize("bad, why", [
    ({"a": {"b"}, "b": {"a"}}, "two modules"),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, "three"),
])
def test_the_circle_check_finds_circles(bad, why):
    assert cycles(bad)


def test_the_floor_check_knows_the_floors():
    assert floor_of("announcer.web.site")[0] == floor_of("announcer.station.daemon")[0] == 2
    assert floor_of("announcer.core.config.schema")[0] > floor_of("announcer.build.speech")[0]
