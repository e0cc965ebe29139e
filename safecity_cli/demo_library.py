"""The demo's library document: a standing operating procedure an officer can search and pin offline."""

from __future__ import annotations

TITLE = "SOP 7: Responding to a face-recognition alert"
FILENAME = "sop-7-face-recognition-alert.md"
SUMMARY = "What the control room and the patrol officer do, in order, when a camera matches a watch list."
TEXT = """# SOP 7: Responding to a face-recognition alert

A camera match is a lead, never an identification. No one is arrested on a camera match alone.

## Control room operator
1. Open the alert. Compare the face crop with the enrolled photo and read the list, its purpose and the score.
2. If the faces plainly differ, mark the alert a false positive with a reason. Do not dispatch.
3. If they may be the same person, acknowledge the alert and dispatch the nearest unit with a note saying what
   the person wears, their direction of travel and why they are on the list.
4. Keep the alert open until the unit reports back; record the outcome in the alert.

## Patrol officer
1. Acknowledge the dispatch on the phone. Approach with the caution the list's purpose calls for (a proclaimed
   offender is not a missing child).
2. Confirm identity with the person's CNIC and, where needed, a fingerprint check from the app.
3. If the person is the one on the list, act on the warrant or the case in the dossier and notify the arrest
   from the app's Report tab. If not, apologise, release them and report the mismatch.

## Supervisor
Review false positives weekly; a camera or list with many of them needs its threshold or placement examined.
"""
