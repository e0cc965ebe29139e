"""Dispatch: patrol units, their positions, nearest-unit offers and the officers' live channel."""
