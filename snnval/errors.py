"""Error types. Every input error names the file (or object), the field and the expected form."""

from __future__ import annotations


class SnnvalError(Exception):
    """Base class; the CLI maps it to exit status 2."""


class SpecError(SnnvalError, ValueError):
    """Bad input: ``source`` (file or object), ``field`` and what was ``expected``."""

    def __init__(self, source: str, field: str, expected: str):
        self.source, self.field, self.expected = source, field, expected
        super().__init__(f"{source}: field '{field}': expected {expected}")

    def __reduce__(self):  # crosses process boundaries (isolated adapter runs) intact
        return (type(self), (self.source, self.field, self.expected))


class NotApplicable(SnnvalError):
    """An adapter cannot run this combination (model, profile, knob value); ``reason`` says why."""


class StaleGolden(SnnvalError):
    """A golden file was made from another spec (its spec hash differs)."""


class AdapterFailure(SnnvalError):
    """An adapter crashed, hung or returned malformed results in its isolated process."""
