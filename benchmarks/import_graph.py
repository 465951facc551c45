"""The import graph of the handocr package: cycles and upward imports.

Every ``import``/``from ... import`` of a handocr module by another, at module level or inside a
function (lazy imports count: they still tie the modules together), is an edge; imports under
``if TYPE_CHECKING:`` are not (they never run). ``from handocr.pkg import sub`` of a submodule
is an edge to the submodule. The script
prints the strongly connected components with more than one module (import cycles; there
should be none) and the imports that point against the pipeline's order (``LAYERS``).

    python benchmarks/import_graph.py [PACKAGE_DIR]   # exit code 1 on a cycle or upward import
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).parents[1] / "handocr"

# Pipeline order (docs/architecture.md): a module may import modules of its own or earlier
# layers; a later stage is passed in as a function instead. Package __init__ files re-export.
LAYERS = [
    {"errors", "version", "labels", "geometry", "result"},
    {"io"},
    {"preprocess"},
    {
        "segment",
        "segment.config",
        "segment.components",
        "segment.layout",
        "segment.lattice",
        "segment.verifier",
        "segment.search",
        "segment.comb",
    },
    {"crops"},
    {
        "models.runtime",
        "models",
        "models.config",
        "models.registry",
        "models.manifest",
        "models.weights",
        "models.loader",
        "models.factory",
        "models.cnn",
        "models.resnet",
        "models.crnn",
        "models.line",
        "ctc",
        "ensemble",
    },
    {
        "decode_context",
        "wordlist",
        "lexicon",
        "decode",
        "readings",
        "fusion",
        "linecrop",
        "kind",
        "confidence",
        "kind_net",
        "comb_net",
        "printed",
        "comb_fields",
    },
    {
        "formats",
        "formats.hocr",
        "formats.tsv",
        "formats.alto",
        "formats.page",
        "formats.pdf",
        "formats._xml",
        "overlay",
        "evaluate",
        "fieldscore",
    },
    {"options"},
    {"pagestream", "pipeline"},
    {"api", "template", "batch", "service"},
    {"__init__", "__main__", "ocrmypdf"},
]
TRAIN = "train"  # the training subpackage may import anything; inference never imports it


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _short(name: str) -> str:
    return name.removeprefix("handocr").removeprefix(".") or "__init__"


def imports_of(path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == "handocr"]
            out |= {_short(n) for n in names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "handocr":
                continue
            subs = {_short(f"{node.module}.{a.name}") for a in node.names}
            subs &= known
            out |= subs
            if len(subs) < len(node.names):  # names defined in the module itself
                out.add(_short(node.module))
    return out


def main() -> int:
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        graph[mod] = {m for m in imports_of(path, set(files)) if m in files and m != mod}
    # strongly connected components (Tarjan)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    sccs: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            sccs.append(comp)

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    cycles = [sorted(c) for c in sccs if len(c) > 1]
    layer = {m: k for k, group in enumerate(LAYERS) for m in group}
    upward = []
    for mod, deps in sorted(graph.items()):
        for dep in sorted(deps):
            if mod.startswith(TRAIN):
                continue
            if dep.startswith(TRAIN):
                upward.append(f"{mod} -> {dep} (inference imports train/)")
            elif mod in layer and dep in layer and layer[dep] > layer[mod]:
                upward.append(f"{mod} -> {dep}")
    unplaced = sorted(m for m in graph if m not in layer and not m.startswith(TRAIN))
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} imports")
    print("cycles:", cycles or "none")
    print("upward imports:", upward or "none")
    if unplaced:
        print("modules without a layer:", unplaced)
    return 1 if cycles or upward or unplaced else 0


if __name__ == "__main__":
    sys.exit(main())
