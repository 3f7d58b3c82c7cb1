"""Touchpoint segments package."""
