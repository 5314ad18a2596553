"""Errors and warnings about a user's input (bad scenario, bad data file, bad option).

Every problem names the file (or the command-line option) and the field it is about, and where the
file is YAML the line and column, so that the command line can print one clear line per problem
and exit with code 2, with no traceback. Messages never repeat what a file holds beyond key names
and numbers: a user who points ``sites.file`` at a private file by mistake must not see it echoed.

Three kinds of report:

* :class:`InputError` (exit code 2): the input is wrong; nothing is run and nothing is written.
* :class:`InputWarning` (a :class:`UserWarning`, issued with :func:`warn`): the input is accepted
  but part of it has no effect or looks like a mistake (a setting the chosen rule ignores, a
  misspelled site-table column, a tie listed twice). The command line prints each once, as
  ``warning: FILE: KEY: message``; from Python they are ordinary warnings
  (``warnings.catch_warnings(record=True)`` collects them).
* :class:`ExecutionError` (exit code 1): the input was fine but running failed for a reason
  outside it (the Dask scheduler went away part-way); the message says what to do, and an
  experiment that stopped can be resumed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with (or worth saying about) a user's input.

    Args:
        source: the file (or ``--set``, ``--months``, ``<python>``) the problem is in.
        field: the dotted key path, CSV column or row the problem is about.
        message: what is wrong and, where possible, what to do instead.
        line, column: where in the file (1-based), when known.
    """

    source: str
    field: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        at = ""
        if self.line is not None:
            at = f" (line {self.line}" + (f", column {self.column})" if self.column is not None else ")")
        return f"{where}: {self.message}{at}"


class InputError(ValueError):
    """A user's input (scenario file, override, network or site table) is invalid.

    Carries every problem found, not only the first, in ``problems``.
    """

    def __init__(self, problems: list[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class InputWarning(UserWarning):
    """A setting that is accepted but has no effect or looks like a mistake (see :func:`warn`)."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


class ExecutionError(RuntimeError):
    """Running failed for a reason outside the input (exit code 1); the message says what to do."""


def fail(source: str, field: str, message: str, line: int | None = None, column: int | None = None) -> InputError:
    """Build an :class:`InputError` holding a single problem (``raise fail(...)``)."""
    return InputError(Problem(str(source), field, message, line, column))


def warn(source: str, field: str, message: str, *, line: int | None = None, column: int | None = None,
         stacklevel: int = 2) -> None:
    """Issue an :class:`InputWarning` about ``field`` of ``source`` (at ``line``, ``column``)."""
    warnings.warn(InputWarning(Problem(str(source), field, message, line, column)), stacklevel=stacklevel + 1)
