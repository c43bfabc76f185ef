"""The project's own errors: what a user can fix, reported in one line by the reproduce entry point.

Every error class a user can act on (a bad ``--set``, a missing data file, a checkpoint that does
not match, an unknown device, an output folder that would be overwritten) derives from
:class:`UserError` as well as from the builtin it has always been (``ValueError``,
``RuntimeError``, ``FileNotFoundError``), so ``except ValueError`` keeps working.
:func:`shared.cli.entry` prints such an error as one line on stderr and exits with status 2;
``--debug`` or ``PAPERS_DEBUG=1`` shows the traceback instead.
"""
from __future__ import annotations


class UserError(Exception):
    """An error whose message names the problem and the fix; shown in one line, exit status 2."""


class ConfigError(ValueError, UserError):
    """A bad ``--set`` key or value; the message names the key, the value, the allowed range and the fix."""


class RunFolderError(UserError, RuntimeError):
    """``--out`` cannot be used as this run's folder (not a run folder, would overwrite, not writable)."""


class CheckpointError(UserError, RuntimeError):
    """A checkpoint that cannot be loaded, or that was written with a different config."""


class DeviceError(UserError, ValueError, RuntimeError):
    """``--device`` names a device that does not exist here."""


class CheckpointNotFound(CheckpointError, FileNotFoundError):
    """``--resume`` (or a tool) asked for a checkpoint that is not there."""


class ResumeMismatch(CheckpointError, ValueError):
    """``--resume`` with a config, seed or paper that differs from the checkpoint's."""
