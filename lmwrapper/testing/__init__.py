"""Test doubles for lmwrapper and for pipelines built on it (no network needed)."""

from lmwrapper.testing.scripted import ScriptedLm

__all__ = ["ScriptedLm"]
