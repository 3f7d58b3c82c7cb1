"""Touchpoint api package."""
