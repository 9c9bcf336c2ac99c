"""The one exception family of dq: every error a user can cause is a ``DQError``.

The CLI turns a ``DQError`` into a one-line message and exit status 2, so each message
names what was wrong (the parameter, column or file), what was expected and what was received.
"""

from __future__ import annotations


class DQError(Exception):
    """Base class of every error dq raises on purpose."""


class ValidationError(DQError, ValueError):
    """An argument passed to the library does not have the expected value, type or shape."""


class InputFileError(DQError):
    """A data file cannot be read as a table of samples (missing, empty, undecodable, wrong columns)."""


class RunStateError(DQError):
    """The logging client was called in the wrong order (no ``init``, outputs before samples, ...)."""


class UnfinishedRunError(DQError):
    """A run directory was never finished (crash or interrupt while logging) and must not be read."""


class RunFormatError(DQError):
    """A run directory exists but does not hold a run in a format this version can read."""


class RunExistsError(DQError):
    """The target run directory already holds a different finished run."""


class ModelLoadError(DQError):
    """The embedding model cannot be loaded offline from the given name or path."""


class MissingExtraError(DQError, ImportError):
    """An integration needs a framework that is not installed; the message names the extra to install."""


class EditsDBError(DQError):
    """The edits-cart database cannot be used (not SQLite, or written by a newer dq)."""


class UsersDBError(DQError):
    """The users database of a team's dq home cannot be used (not SQLite, damaged, or newer)."""


class AccessDenied(DQError, PermissionError):
    """A user's role does not allow what was asked (a viewer's edit, a read without a grant)."""
