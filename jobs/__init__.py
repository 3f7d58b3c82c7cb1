"""Touchpoint jobs package."""
