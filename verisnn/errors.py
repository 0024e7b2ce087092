"""Errors that name what is wrong and where.

Every error a user can provoke with bad input derives from :class:`VerisnnError`;
the command line turns it into exit status 2 and a one-line message, never a
traceback.
"""

from __future__ import annotations


class VerisnnError(ValueError):
    """Bad input: a model, property, raster, config or NIR graph that cannot be used."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class ModelError(VerisnnError):
    """A model (file or object) that violates model format v1."""


class NIRError(VerisnnError):
    """A NIR graph that cannot be imported, or a model that cannot be exported."""


class InputError(VerisnnError):
    """An input raster or data set that does not fit the model."""


class ResourceError(VerisnnError):
    """A request that would exceed a stated resource limit (the memory budget, a size bound
    of the format); refused before anything is allocated, naming the limit and how to raise it."""
