"""Statements on the simulator's SQLite state, one per file."""
