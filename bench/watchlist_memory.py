"""What a candidate index costs in memory, for bench/watchlist_scale.py: the process's anonymous and
peak resident memory, and the bytes ``faiss.write_index`` produces."""

from __future__ import annotations

from pathlib import Path

import faiss


def rss_anon_mb() -> float:
    """Anonymous resident memory: what the index costs, without the memory-mapped gallery file."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def serialised_bytes(index: faiss.Index) -> int:
    """What faiss.write_index produces, counted without holding a copy."""
    total = 0

    def count(data: bytes) -> int:
        nonlocal total
        total += len(data)
        return len(data)

    faiss.write_index(index, faiss.PyCallbackIOWriter(count))
    return total
