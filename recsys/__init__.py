"""Touchpoint recsys package."""
