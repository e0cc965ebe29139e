"""Which cameras a worker should claim or release this round: pure, so every rule is table-tested.

Fair share: with ``n`` cameras and ``w`` live workers every worker gets ``n // w`` and ``n % w`` of them
one more. Who gets the extra ones is decided the same way by every worker from the same view: those
holding the most already (fewest moves), then by id. A worker above its share releases the surplus only
while some worker is below its own (otherwise a stale view would make cameras hop for nothing); a
worker below its share claims free cameras. A camera seen free on two rounds in a row is rescued by
anyone, whatever the shares say, so no camera stays dark because views disagree.

Which cameras: rendezvous hashing of (worker, camera), so each worker prefers a stable, different set
and concurrent claims rarely collide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class View:
    me: str
    cameras: frozenset[str]  # in the catalogue
    owners: Mapping[str, str]  # camera id -> worker holding its lease (anyone, me included)
    held_counts: Mapping[str, int]  # live worker id -> cameras it says it holds (me excluded or stale)
    held: frozenset[str]  # my leases
    free_before: frozenset[str] = frozenset()  # cameras that were free in my previous round


@dataclass(frozen=True, slots=True)
class Plan:
    release: tuple[str, ...]
    claim: tuple[str, ...]
    quota: int
    free: frozenset[str]


def preference(worker_id: str, camera_id: str) -> int:
    """Rendezvous score: higher means this worker wants this camera more."""
    digest = hashlib.blake2b(f"{worker_id}\x00{camera_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def quotas(n_cameras: int, counts: Mapping[str, int]) -> dict[str, int]:
    """Each live worker's fair share of ``n_cameras``; the shares add up to ``n_cameras``."""
    if not counts:
        return {}
    base, extra = divmod(n_cameras, len(counts))
    ranking = sorted(counts, key=lambda worker: (-counts[worker], worker))
    return {worker: base + (1 if i < extra else 0) for i, worker in enumerate(ranking)}


def _by_preference(me: str, cameras: Collection[str], *, most_wanted_first: bool) -> list[str]:
    return sorted(cameras, key=lambda c: (preference(me, c), c), reverse=most_wanted_first)


def plan(view: View) -> Plan:
    gone = view.held - view.cameras  # removed from the catalogue: always let go
    held = view.held - gone
    counts = {worker: n for worker, n in view.held_counts.items() if worker != view.me}
    counts[view.me] = len(held)
    share = quotas(len(view.cameras), counts)
    quota = share[view.me]
    free = frozenset(view.cameras - view.owners.keys() - held)

    release = list(gone)
    surplus = len(held) - quota
    someone_short = any(counts[w] < share[w] for w in counts if w != view.me)
    if surplus > 0 and someone_short:
        release += _by_preference(view.me, held, most_wanted_first=False)[:surplus]
        held = held - set(release)

    claim = _by_preference(view.me, free, most_wanted_first=True)[: max(quota - len(held), 0)]
    orphans = (free & view.free_before) - set(claim)
    claim += _by_preference(view.me, orphans, most_wanted_first=True)
    return Plan(tuple(release), tuple(claim), quota, free)
