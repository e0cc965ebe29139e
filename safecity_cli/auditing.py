"""Administrative commands write what they did to the audit trail, keyed like the command centre's: a
change to the database and its audit entry in one transaction (``audited_change``), a change elsewhere
(NATS) followed by its entry (``audit``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from pipeline.settings import Settings
from safecity_cli.main import EXIT_FAILURE, CommandError

Record = Callable[..., object]


@contextmanager
def audited_change(settings: Settings, engine: Engine) -> Iterator[Record]:
    """Make the block's database change and its audit entry (``record(actor, action, target, **kw)``)
    commit together; nothing is changed when either cannot be written."""
    from command_center.security.audit import AuditTrail

    trail = AuditTrail.of(engine, settings)
    try:
        trail.create_schema()
        with trail.unit():
            yield lambda actor, action, target, **kw: trail.record(actor, action, target, role="cli", **kw)
    except SQLAlchemyError as exc:
        raise CommandError(
            f"nothing changed: the change or its audit entry could not be written ({exc})", EXIT_FAILURE
        ) from None


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
