#!/usr/bin/env python3
"""A markdown table of every bench/load.py --json result in a folder: `python bench/summarize.py DIR`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def cell(value: Any) -> str:
    return "-" if value is None else str(value)


def main() -> None:
    folder = Path(sys.argv[1])
    rows = []
    for path in sorted(folder.glob("*.json")):
        try:
            r = json.loads(path.read_text())
        except ValueError:
            rows.append(f"| {path.stem} | (no result: see {path.stem}.txt) |" + " |" * 20)
            continue
        c, con, res = r["config"], r["connect"], r["resources"]
        m = r.get("messages") or {}
        lat = m.get("latency_ms") or {}
        server = res.get("server", {})
        phase = server.get("phases", {}).get("hold" if c["connect_only"] else "send", {})
        connect_phase = server.get("phases", {}).get("connect", {})
        gen = res.get("generator", {}).get("phases", {}).get("hold" if c["connect_only"] else "send", {})
        rows.append(
            "| "
            + " | ".join(
                cell(v)
                for v in (
                    path.stem,
                    f"{con['connected']}/{con['requested']}",
                    con["total_s"],
                    f"{con['per_conn_ms']['p50']}/{con['per_conn_ms']['p99']}",
                    "connect only"
                    if c["connect_only"]
                    else f"{c['rate']} {c['direction'].replace('visitor', 'v').replace('agent', 'a').replace('-to-', '→')}",
                    m.get("sent"),
                    m.get("acked"),
                    m.get("rejected"),
                    f"{m.get('delivered')}/{m.get('expected_deliveries')}" if m else None,
                    m.get("lost"),
                    m.get("duplicated"),
                    lat.get("p50"),
                    lat.get("p95"),
                    lat.get("p99"),
                    lat.get("max"),
                    f"{phase.get('cpu_mean_pct')}/{phase.get('cpu_max_pct')}" if phase else None,
                    f"{connect_phase.get('cpu_mean_pct')}/{connect_phase.get('cpu_max_pct')}"
                    if connect_phase
                    else None,
                    (con.get("cpu_ms_per_visitor") or {}).get("server"),
                    (m.get("cpu_ms_per_message") or {}).get("server"),
                    server.get("rss_max_mb"),
                    gen.get("cpu_mean_pct"),
                    sum((m.get("errors") or {}).values()) or None,
                )
            )
            + " |"
        )
    print(
        "| run | connected | connect s | conn p50/p99 ms | load | sent | acked | rejected | delivered | lost | dup "
        "| p50 ms | p95 ms | p99 ms | max ms | server CPU % mean/max (send or hold) | server CPU % (connect) "
        "| server CPU ms per visitor (connect) | server CPU ms per message | server RSS MB | generator CPU % | errors |"
    )
    print("|" + "---|" * 22)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
