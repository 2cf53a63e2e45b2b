"""Texts a client reads that are composed from values — a problem's ``detail``, a bad row's
``reason`` — kept with their template (plain values, no framework).

A ``Text`` is a ``str`` (the English, what logs and the default answer show) that also carries
the template it was made from and the values put into it, so that ``i18n`` can say the same in
Chinese without guessing the values back out of the words. Templates are written where the
refusal is raised, always as a literal: ``text("program {program!r} is already published",
program=program_id)``. Their Chinese is in ``i18n.DETAILS_ZH``, keyed by the English template,
and a test walks every ``text(...)`` of the services and fails on one without it
(tests/unit/test_i18n_templates.py)."""

from __future__ import annotations

import re
from typing import Any

_FIELD = re.compile(r"\{(\w+)(?:![rsa])?(?::[^{}]*)?\}")


class Text(str):
    """The English of a text, with its ``template`` and ``values`` (``str(text)`` is plain)."""

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, values: dict[str, Any],
                english: str | None = None) -> Text:
        made = super().__new__(cls, template.format(**values) if english is None else english)
        made.template = template
        made.values = values
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        return (Text, (self.template, self.values, str(self)))


class Listed(tuple[str, ...]):
    """Several texts as one value, read one after the other ("a; b"): ``i18n`` says each in
    Chinese."""

    def __format__(self, spec: str) -> str:
        return "; ".join(self)

    def __str__(self) -> str:
        return "; ".join(self)


def text(template: str, /, **values: Any) -> Text:
    """The template with its values in: ``{name}``, ``{name!r}``, ``{name:.2f}`` as in
    ``str.format``."""
    return Text(template, values)


def worded(english: str, template: str, /, **values: Any) -> Text:
    """A text somebody else worded (a library's message), kept as they worded it, with the
    template and values it says: ``i18n`` says it in Chinese from those."""
    return Text(template, values, english)


def placeholders(template: str) -> list[str]:
    """The names of the values a template takes, in order of first use."""
    return list(dict.fromkeys(_FIELD.findall(template)))
