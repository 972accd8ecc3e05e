"""The version of lmwrapper, written in one place: `lmwrapper.__version__` and the package
metadata (pyproject.toml, `tool.setuptools.dynamic`) both read it from here."""

__version__ = "1.0.0"
