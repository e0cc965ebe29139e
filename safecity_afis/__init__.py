"""The project's own AFIS: ANSI/NIST-ITL 1-2011 transactions (``ansi_nist``), fingerprint minutiae
(``minutiae``), minutia matching (``matching``), a small gallery served over HTTP (``server``) and the
synthetic prints the tests use (``synth``, after SFinGe)."""
