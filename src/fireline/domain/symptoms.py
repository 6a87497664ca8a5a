"""Symptom text as comparable key words, with volatile tokens masked.

Incidents that share a cause rarely share their exact wording: host names, ids, counts and
timestamps change every time (`db-07 pool exhausted after 4123 ms` vs `db-12 pool exhausted
after 87 ms`). `key_words()` keeps what stays the same:

    lower-case words of letters only  ->  tokens with a digit are dropped (ids, hosts, numbers)
    stop words and words under 3 letters are dropped
    a light plural/verb ending is folded (`connections` -> `connection`, `failed` -> `fail`)

`coverage()` says how much of one word set another contains. Pure, stdlib only, explainable:
the words themselves are the reason shown to a responder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_TOKEN = re.compile(r"[a-z0-9]+(?:['_][a-z0-9]+)*")
STOP_WORDS: frozenset[str] = frozenset(
    """
    the and for with from into onto that this these those was were are has have had not but
    all any can could should would will may might its our your their there here then than
    when while what which who whom why how been being over under after before again very
    just also only some more most less such each other about above below between during
    out off too via per get got use used using
    """.split()
)


def key_words(text: str) -> frozenset[str]:
    """The stable key words of `text` (see the module docstring); empty for blank text."""
    words: set[str] = set()
    for token in _TOKEN.findall(text.lower()):
        for part in token.replace("'", "_").split("_"):
            if len(part) < 3 or not part.isalpha() or part in STOP_WORDS:
                continue
            words.add(_fold(part))
    return frozenset(words)


def _fold(word: str) -> str:
    for ending, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(ending) and len(word) - len(ending) >= 4 and not word.endswith("ss"):
            return word[: len(word) - len(ending)] + keep
    return word


def coverage(wanted: Iterable[str], present: frozenset[str]) -> tuple[float, list[str]]:
    """Share (0..1) of `wanted` words found in `present`, and the found words sorted.

    An empty `wanted` covers nothing (0.0): absence of evidence is not a match.
    """
    want = set(wanted)
    if not want:
        return 0.0, []
    found = sorted(want & present)
    return len(found) / len(want), found
