"""Errors raised for a user's mistakes (bad scenario, bad data file).

Every problem names the file and the field it is about, so that the command line can print one
clear line per problem and exit with code 2, with no traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a user's input.

    Args:
        source: the file (or ``--set``, or ``<python>``) the problem is in.
        field: the dotted key path, CSV column or row the problem is about.
        message: what is wrong and, where possible, what to do instead.
    """

    source: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        return f"{where}: {self.message}"


class InputError(ValueError):
    """A user's input (scenario file, override, network or site table) is invalid.

    Carries every problem found, not only the first, in ``problems``.
    """

    def __init__(self, problems: list[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def fail(source: str, field: str, message: str) -> InputError:
    """Build an :class:`InputError` holding a single problem (``raise fail(...)``)."""
    return InputError(Problem(str(source), field, message))
