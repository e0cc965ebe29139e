"""What an officer should do about a sighting, by watchlist category: a missing person is a welfare
check, never an arrest. Shown on alerts, dispatch notices and bulletins."""

from __future__ import annotations

WELFARE_CHECK = (
    "Welfare check: a reported missing person, not a suspect. Approach calmly, confirm who they are and "
    "that they are safe, offer help and inform the control room; do not arrest."
)
INSTRUCTIONS = {"missing": WELFARE_CHECK}


def instruction_for(category: str) -> str | None:
    return INSTRUCTIONS.get(category)
