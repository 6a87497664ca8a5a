"""Fireline: self-hosted incident and problem management."""

__version__ = "0.1.0"
