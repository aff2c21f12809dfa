"""Capture: edit and command episodes from what the developer does."""
