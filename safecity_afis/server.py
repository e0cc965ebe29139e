"""The AFIS over HTTP (stdlib server, one thread per request).

``POST /transactions``: an ANSI/NIST-ITL 1-2011 transaction (traditional encoding, Type-1 and a Type-14
fingerprint image) in, a JSON answer out: ``{"tcn", "tot", "minutiae", "candidates": [{"subject",
"score"}]}`` ranked by score (0-100), or ``{"error"}`` with 400 when the transaction or its image cannot
be read. ``GET /health``: ``{"status": "ok", "subjects": n}``.
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from safecity_afis import ansi_nist, minutiae
from safecity_afis.gallery import Gallery

MAX_BODY = 20_000_000
MAX_PIXELS = 16_000_000
log = logging.getLogger("safecity.afis")


def image_of(img: ansi_nist.FingerImage) -> np.ndarray:
    """The Type-14 record's pixels as a grayscale array."""
    if img.width * img.height > MAX_PIXELS:
        raise minutiae.ImageError(f"14.006/14.007: {img.width}x{img.height} is more than {MAX_PIXELS} pixels")
    if img.compression == "NONE":
        return np.frombuffer(img.data, np.uint8).reshape(img.height, img.width)
    pixels = cv2.imdecode(np.frombuffer(img.data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if pixels is None:
        raise minutiae.ImageError(f"14.999: the {img.compression} image data cannot be decoded")
    if pixels.shape != (img.height, img.width):
        raise minutiae.ImageError(f"14.999: the image is {pixels.shape[1]}x{pixels.shape[0]}, not HLL x VLL")
    return np.asarray(pixels, np.uint8)


def identify(gallery: Gallery, data: bytes, limit: int = 10) -> dict[str, Any]:
    tx = ansi_nist.decode(data)
    if not tx.images:
        raise ansi_nist.AnsiNistError("the transaction holds no Type-14 fingerprint image")
    probe = minutiae.extract(image_of(tx.images[0])).minutiae
    found = gallery.search(probe, limit)
    return {
        "tcn": tx.tcn,
        "tot": tx.tot,
        "minutiae": len(probe),
        "candidates": [{"subject": c.subject, "score": c.score} for c in found],
    }


def make_handler(gallery: Gallery) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/health":
                return self._reply(404, {"error": f"no such path {self.path}"})
            self._reply(200, {"status": "ok", "subjects": gallery.subjects()})

        def do_POST(self) -> None:
            if self.path != "/transactions":
                return self._reply(404, {"error": f"no such path {self.path}"})
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                return self._reply(400, {"error": f"a transaction of 1 to {MAX_BODY} bytes is expected"})
            try:
                self._reply(200, identify(gallery, self.rfile.read(length)))
            except (ansi_nist.AnsiNistError, minutiae.ImageError) as exc:
                self._reply(400, {"error": str(exc)})

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

    return Handler


def serve(host: str, port: int, data: Path) -> None:
    server = ThreadingHTTPServer((host, port), make_handler(Gallery(data)))
    log.info("AFIS listening on %s:%d, gallery %s", host, port, data)
    try:
        server.serve_forever()
    finally:
        server.server_close()
