"""Exceptions and the problem log used to report bad input.

Every problem names where it was found (file and line when known) and the offending value.
Readers collect all problems of one run in a `ProblemLog` and raise once at the end, so a
maintainer sees every problem at once instead of fixing them one crash at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


class AnthologyResolveError(Exception):
    """Base class of all errors this package raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found in the input, with enough context to fix it. Problems sort by
    file, then line (those without a line first in their file), message and value."""

    source: str
    line: int | None
    message: str
    value: str = ""
    severity: Severity = "error"

    def __lt__(self, other: Problem) -> bool:
        return self._order() < other._order()

    def _order(self) -> tuple[str, int, str, str, str]:
        # None and a number do not compare: a file's problems with and without a line broke
        # every sort of them (helper-45).
        return (self.source, -1 if self.line is None else self.line, self.message, self.value,
                self.severity)

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        # A carriage return or another invisible character in a value is shown escaped.
        shown = self.value if self.value.isprintable() else repr(self.value)
        value = f" [{shown}]" if self.value else ""
        return f"{where}: {self.severity}: {self.message}{value}"


class InputError(AnthologyResolveError):
    """The input holds one or more errors; `problems` lists each of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        lines = [str(p) for p in self.problems]
        shown = lines[:50]
        more = f"\n... and {len(lines) - 50} more" if len(lines) > 50 else ""
        super().__init__(f"{len(lines)} problem(s) in the input:\n" + "\n".join(shown) + more)


@dataclass
class ProblemLog:
    """Collects problems during one run; `raise_if_errors` raises them all together."""

    problems: list[Problem] = field(default_factory=list)

    def error(self, source: str | Path, line: int | None, message: str, value: str = "") -> None:
        self.problems.append(Problem(str(source), line, message, value, "error"))

    def warning(self, source: str | Path, line: int | None, message: str, value: str = "") -> None:
        self.problems.append(Problem(str(source), line, message, value, "warning"))

    def extend(self, other: ProblemLog) -> None:
        self.problems.extend(other.problems)

    @property
    def errors(self) -> list[Problem]:
        return sorted(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> list[Problem]:
        return sorted(p for p in self.problems if p.severity == "warning")

    def raise_if_errors(self) -> None:
        if self.errors:
            raise InputError(self.errors)
