"""Touchpoint experiments package."""
