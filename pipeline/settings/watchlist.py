"""Settings of the watchlist (``watchlist:`` in the YAML file): the FAISS backend, snapshots, and how watch
lists are calibrated. Included in ``Settings`` as ``Settings.watchlist``; kept apart so the noun stays small.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from pipeline.settings.base import Strict


class FaceIndexFlat(Strict):
    type: Literal["faiss_flat"] = Field("faiss_flat", description="Exact inner-product search.")


class FaceIndexHnsw(Strict):
    type: Literal["faiss_hnsw"] = Field(description="Approximate search for large watchlists.")
    m: int = Field(32, ge=4, le=128, description="HNSW graph degree.")
    ef_construction: int = Field(80, ge=8, le=1024, description="Build-time beam width.")
    ef_search: int = Field(64, ge=8, le=1024, description="Query-time beam width.")


class FaceIndexIvfPq(Strict):
    """Inverted lists of 4-bit PQ codes scanned with SIMD (fast-scan), the shortlist re-ranked exactly.

    Face embeddings spread almost uniformly over the sphere, so graph search (HNSW) and small probes
    miss a twin that is only ~0.7 similar; recall depends on the share of the lists scanned, which
    fast-scan codes make cheap (bench/watchlist_scale.py measured the defaults at 1.5M profiles).
    """

    type: Literal["faiss_ivf_pq"] = Field(description="Compressed approximate search for national scale.")
    nlist: int = Field(
        0, ge=0, le=65536, description="Inverted lists; 0 picks a power of two near sqrt(size) when trained."
    )
    probe_fraction: float = Field(
        0.375, gt=0, le=1, description="Share of the lists scanned per query (nprobe = nlist x this)."
    )
    pq_m: int = Field(32, ge=4, le=128, description="4-bit sub-quantizers per vector (m/2 bytes of code).")
    rerank: int = Field(
        256, ge=1, le=16384, description="Shortlist re-ranked with the exact vectors (at least the k asked)."
    )
    exact_below: int = Field(
        20_000, ge=64, le=10_000_000, description="Below this many vectors, search exactly (no training)."
    )


FaceIndexSettings = Annotated[FaceIndexFlat | FaceIndexHnsw | FaceIndexIvfPq, Field(discriminator="type")]


class WatchlistSnapshots(Strict):
    """Serialised indexes in the NATS object store, so a worker starts without rebuilding from the DB."""

    enabled: bool = Field(
        True, description="Workers start from the newest fitting snapshot, else rebuild from the database."
    )
    bucket: str = Field(
        "",
        pattern=r"^[A-Za-z0-9_-]{0,64}$",
        description="Object store bucket; empty: <nats.subject_prefix>_watchlist (safecity_watchlist).",
    )
    keep: int = Field(2, ge=1, le=20, description="Snapshots kept; older ones are deleted after a publish.")
    catchup_margin_s: float = Field(
        600.0,
        ge=0,
        le=86_400,
        description="Profiles changed up to this long before a snapshot was taken are re-read from the "
        "database when it is loaded: covers clock skew between hosts and transactions in flight.",
    )
    download_timeout_s: float = Field(600.0, gt=0, le=7200, description="Give up a download after this.")


class WatchListDefaults(Strict):
    """How watch-list thresholds are calibrated (pipeline/calibration.py) and shown."""

    target_fpir: float = Field(
        1e-4,
        ge=1e-9,
        le=0.1,
        description="False alerts per stranger track (a person not on the list passing a camera) that "
        "a new list aims at; NIST FRVT's identification operating point is 3e-3 per search.",
    )
    min_genuine_pass: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="A list goes live only if its calibrated threshold passes at least this share of "
        "genuine faces (the embedder's measured genuine scores); larger lists are for searching.",
    )
    stranger_tracks_per_hour: float = Field(
        600.0,
        gt=0,
        le=1_000_000,
        description="Passers-by per camera-hour assumed when expected false alerts are shown.",
    )
    recalibrate_s: float = Field(
        300.0,
        ge=5,
        le=86_400,
        description="How often every list's threshold is recomputed (entries expire; lists change size).",
    )


class WatchlistSettings(Strict):
    index: FaceIndexSettings = Field(default_factory=FaceIndexFlat, description="FAISS backend.")
    lists: WatchListDefaults = Field(default_factory=WatchListDefaults)
    snapshots: WatchlistSnapshots = Field(default_factory=WatchlistSnapshots)
    max_photo_bytes: int = Field(10_000_000, ge=1000, description="Largest enrolment photo accepted.")
    max_photo_pixels: int = Field(40_000_000, ge=10_000, description="Largest decoded photo accepted.")
