"""Hubbub's benchmark suite: `python -m bench run [--quick] [--only B3]` (see README.md)."""
