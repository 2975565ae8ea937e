"""The registry's error type, in a leaf module so every part of the registry can raise it."""

from __future__ import annotations


class RegistryError(ValueError):
    """A model name, folder or file that cannot be used; the message says why."""
