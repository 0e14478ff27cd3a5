"""Torch modules (training side only: nothing on the reading path imports this package)."""
