"""Helpers for the tracker's browser tests: the demo-site server and Chromium settings."""
