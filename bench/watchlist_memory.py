"""What a candidate index costs in memory, for bench/watchlist_scale.py (a module it imports, not a
benchmark of its own): the process's anonymous and
peak resident memory, and the bytes ``faiss.write_index`` produces."""

from __future__ import annotations

from pathlib import Path

import faiss


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def rss_anon_mb() -> float:
    """Anonymous resident memory: what the index costs, without the memory-mapped gallery file."""
    return _status_mb("RssAnon")


def peak_rss_mb() -> float:
    return _status_mb("VmHWM")


def serialised_bytes(index: faiss.Index) -> int:
    """What faiss.write_index produces, counted without holding a copy."""
    total = 0

    def count(data: bytes) -> int:
        nonlocal total
        total += len(data)
        return len(data)

    faiss.write_index(index, faiss.PyCallbackIOWriter(count))
    return total
