"""CRO records (persons of interest), their spelling-agnostic search, officers' personal watchlists
and the hotel check-in feed (CASP "Hotel Eye"). Wired by ``services.start_records``."""
