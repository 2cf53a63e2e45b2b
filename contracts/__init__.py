"""Contracts of the VBP platform: every event and every public request/response model.

Installable on its own (see ``pyproject.toml`` in this folder) as a typed client library.
"""
