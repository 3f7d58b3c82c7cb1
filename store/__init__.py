"""Touchpoint store package."""
