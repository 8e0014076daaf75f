"""The apps form a tower (DESIGN.md section 5): no import runs upward, no two apps import each other."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tower():  # scripts/ is not a package: load the checker as the README runs it
    spec = importlib.util.spec_from_file_location("tower", ROOT / "scripts" / "tower.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["tower"] = module
    spec.loader.exec_module(module)
    return module


def test_no_import_runs_up_the_tower_and_no_two_apps_import_each_other():
    upward, pairs = _tower().upward_imports()
    assert upward == []
    assert [pair for pair in pairs if (pair[1], pair[0]) in pairs] == []


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    tower = _tower()
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "x.py").write_text("from chat.models import Message\n")
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "y.py").write_text("from core import x\n")
    monkeypatch.setattr(tower, "ROOT", tmp_path)
    upward, _pairs = tower.upward_imports()
    assert upward == ["core/x.py:1 core -> chat"]


# chat/realtime's modules, lowest first: each imports only those before it, and of the rest of chat only
# the floor the realtime plumbing stands on (models, frames, hooks); never the services it carries.
REALTIME = ["lifecycle", "presence", "healing", "layers", "broadcast", "heartbeat"]
CHAT_FLOOR = {"models", "frames", "hooks"}


def test_the_realtime_modules_import_downward_only():
    import ast

    wrong = []
    for index, name in enumerate(REALTIME):
        path = ROOT / "chat" / "realtime" / f"{name}.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            dots = "." * node.level
            targets = [dots + (node.module or alias.name) for alias in node.names]
            for target in targets:
                if target.startswith(("chat.realtime.", "..realtime.")) or (
                    target.startswith(".") and not target.startswith("..")
                ):
                    sibling = target.rsplit(".", 1)[-1]
                    if sibling in REALTIME and REALTIME.index(sibling) >= index:
                        wrong.append(f"{name} -> {sibling}")
                elif target.startswith(("..", "chat.")):
                    first = target.lstrip(".").removeprefix("chat.").split(".")[0]
                    if first not in CHAT_FLOOR:
                        wrong.append(f"{name} -> chat.{first}")
    assert wrong == []
    assert sorted(p.stem for p in (ROOT / "chat" / "realtime").glob("*.py") if p.stem != "__init__") == sorted(REALTIME)


APPS = _tower().TOWER


def test_chat_holds_under_half_of_the_apps_python():
    lines = _tower().lines_per_app()
    assert lines["chat"] < sum(lines.values()) / 2, lines


def _sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_no_function_is_graded_above_c_and_no_module_below_b_by_radon():
    from radon.complexity import cc_rank, cc_visit
    from radon.metrics import mi_rank, mi_visit

    too_complex, hard_to_keep = [], []
    for path in _sources():
        code = path.read_text(encoding="utf-8")
        too_complex += [
            f"{path.relative_to(ROOT)}:{block.name} {cc_rank(block.complexity)} ({block.complexity})"
            for block in cc_visit(code)
            if cc_rank(block.complexity) not in "ABC"
        ]
        if mi_rank(mi_visit(code, multi=True)) not in "AB":
            hard_to_keep.append(str(path.relative_to(ROOT)))
    assert too_complex == []
    assert hard_to_keep == []
