"""Checks the tower of apps: lists every import that runs upward and every circle between two apps.

Usage: python scripts/tower.py [--quiet]; exits 1 when an import runs upward. Also prints each app's share
of the Python.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first: an app may import only the apps before it.
TOWER = ["core", "enterprises", "accounts", "chat", "blacklist", "stats", "replies", "notices", "wechat", "gofly_site"]


def imported_apps(path: Path) -> list[tuple[int, str]]:
    """(line, app) for every import statement of `path` that names one of the tower's apps."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in TOWER:
                found.append((node.lineno, top))
    return found


def app_sources(app: str) -> list[Path]:
    return sorted(p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)


def upward_imports() -> tuple[list[str], dict[tuple[str, str], int]]:
    """The upward import statements as `file:line app -> app`, and the count of statements per app pair."""
    upward: list[str] = []
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    for app in TOWER:
        if not (ROOT / app).is_dir():
            continue
        for path in app_sources(app):
            for line, other in imported_apps(path):
                if other == app:
                    continue
                pairs[(app, other)] += 1
                if TOWER.index(other) > TOWER.index(app):
                    upward.append(f"{path.relative_to(ROOT)}:{line} {app} -> {other}")
    return upward, pairs


def lines_per_app() -> dict[str, int]:
    """Lines of Python per app (migrations aside): no app may become the hub again."""
    return {
        app: sum(len(p.read_text(encoding="utf-8").splitlines()) for p in app_sources(app))
        for app in TOWER
        if (ROOT / app).is_dir()
    }


def main() -> int:
    lines = lines_per_app()
    total = sum(lines.values())
    print(", ".join(f"{app} {n} ({n / total:.0%})" for app, n in lines.items()) + f"; {total} lines of Python")
    upward, pairs = upward_imports()
    circles = sorted({tuple(sorted(pair)) for pair in pairs if (pair[1], pair[0]) in pairs})
    if "--quiet" not in sys.argv:
        for line in upward:
            print(line)
    print(f"{len(upward)} upward import statements; {len(circles)} circles between two apps: {circles}")
    return 1 if upward or circles else 0


if __name__ == "__main__":
    sys.exit(main())
