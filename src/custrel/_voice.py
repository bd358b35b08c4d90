"""How intake messages speak (private): the caller's words and positions.

The Python API names its arguments (``date_format``) and 0-based array rows
(``row 16``); the command line names its flags (``--date-format``) and file
lines with the header as line 1 (``line 18``). Every intake message is built
through one :class:`Voice`, so the same check reads right in both places.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from custrel.errors import InvalidInputError, InvalidTypeError

__all__: list[str] = []


def row_at(index: int) -> str:
    """The position of element ``index`` of an array: ``row 16`` (0-based)."""
    return f"row {index}"


def _words(value: Mapping[str, str] | None) -> Mapping[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidTypeError(
            f"vocabulary must be a mapping of argument names to words, got {type(value).__name__}"
        )
    for key, word in value.items():
        if not isinstance(key, str) or not isinstance(word, str):
            raise InvalidTypeError(f"vocabulary must map strings to strings, got {key!r}: {word!r}")
    return dict(value)


@attrs.frozen
class Voice:
    """The words of intake messages.

    Attributes
    ----------
    words : mapping
        Argument name to the word the caller knows it by
        (``{"date_format": "--date-format"}``); unmapped names are used as is.
    at : callable
        Element index to position text (``row 16`` or ``line 18``).
    """

    words: Mapping[str, str] = attrs.field(factory=dict, converter=_words)
    at: Callable[[int], str] = row_at

    def arg(self, name: str) -> str:
        """The caller's word for argument ``name``."""
        return self.words.get(name, name)

    def pass_(self, name: str, example: Any = None) -> str:
        """``pass date_format='%Y%m%d'`` or ``pass --date-format '%Y%m%d'``."""
        word = self.arg(name)
        if example is None:
            return f"pass {word}"
        if word.startswith("-"):
            text = str(example)
            simple = text and all(c.isalnum() or c in "-_.:/%" for c in text)
            return f"pass {word} {text if simple else repr(text)}"
        return f"pass {word}={example!r}"

    def with_at(self, at: Callable[[int], str]) -> Voice:
        """The same words with other positions."""
        return Voice(self.words, at)


PLAIN = Voice()


def choice(value: Any, name: str, options: tuple[str, ...], voice: Voice = PLAIN) -> str:
    """Check that ``value`` is one of ``options``, naming the argument in the caller's words."""
    if not isinstance(value, str) or value not in options:
        allowed = ", ".join(repr(o) for o in options)
        raise InvalidInputError(f"{voice.arg(name)} must be one of {allowed}, got {value!r}")
    return value
