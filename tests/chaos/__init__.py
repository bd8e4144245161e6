"""Chaos, fault injection and fuzzing (marker ``chaos``): see docs/reliability.md."""
