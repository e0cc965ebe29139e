"""Licence-plate reading: formats and corrections, CTC decoding, crops, and the per-frame reader."""
