"""Alerts: hits from JetStream into episodes, their lifecycle, verdicts, the live feed and plate reads."""
