"""Administrative commands write what they did to the audit trail, keyed like the command centre's."""

from __future__ import annotations

import sys
from typing import Any

from sqlalchemy import Engine

from pipeline.settings import Settings


def audit(settings: Settings, engine: Engine, actor: str, action: str, target: str, **kw: Any) -> bool:
    """Record an administrative change; False (with a warning) if the audit trail is unreachable."""
    from command_center.security.audit import AuditTrail

    try:
        trail = AuditTrail.of(engine, settings)
        trail.create_schema()
        trail.record(actor, action, target, role="cli", **kw)
    except Exception as exc:  # the change is made; say loudly that it is not in the trail
        print(f"safecity: WARNING: not recorded in the audit trail: {exc}", file=sys.stderr)
        return False
    return True
