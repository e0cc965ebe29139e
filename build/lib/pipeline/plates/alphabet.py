"""The symbols plate OCR decodes to: the CTC blank, A-Z and 0-9 (no I/O/Q special-casing here)."""

from __future__ import annotations

import string

BLANK = "_"
PLATE_ALPHABET = BLANK + string.ascii_uppercase + string.digits
"""Column labels of plate OCR probability matrices; index 0 is the CTC blank."""
N_SYMBOLS = len(PLATE_ALPHABET)
