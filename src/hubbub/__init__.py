"""Hubbub: a self-hostable real-time chat platform."""

__version__ = "0.1.0"
