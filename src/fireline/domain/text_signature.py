"""Text signatures of incidents: masked, stemmed word lists and IDF-weighted vectors.

Incident titles and descriptions repeat the same cause in different words and with different
volatile details: host names (`web-42`, `ip-10-0-3-7`), pods (`checkout-7f9c8d-x2k4p`), IP
addresses, UUIDs, hex ids, numbers, durations, sizes, e-mail addresses and query strings. To
compare them we

1. lowercase and **mask** the volatile tokens (`normalise` shows the masks as `<host>`, `<ip>`…;
   `tokens` drops them, because a masked token says nothing about the cause),
2. split into words, drop stop words, apply a light suffix stemmer (`exhausted` ~ `exhaustion`),
3. weight words by inverse document frequency over a corpus (`TermStats`), so generic incident
   words such as "error", "high" or "alert" weigh little and rare, specific words weigh a lot;
   a built-in list of generic words is damped even before a corpus is known,
4. compare unit vectors by cosine (`cosine`) and explain a match by its heaviest shared words
   (`shared_terms`).

`key_terms` (the few heaviest words of a vector) is the signature used for blocking: two
incidents that share no key term are never compared in full. It plays the role MinHash bands
play elsewhere, but costs a sort instead of dozens of hash permutations and stays explainable.
Everything here is pure and deterministic.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

WeightedTerms = dict[str, float]

STOP_WORDS: frozenset[str] = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our out over own same she should
    so some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your
    via per after also again still yet ago since vs etc please see eg ie""".split()
)
"""English function words. "down" and "not" are kept out of the vector on purpose: they modify
the words around them but are too common to identify a cause on their own."""

GENERIC_WORDS: frozenset[str] = frozenset(
    """error errors alert alerts high low critical warning warn issue issues problem problems
    incident incidents service services fail failed failing failure failures detected prod
    production firing resolved triggered degraded p1 p2 p3 p4 sev sev1 sev2 sev3 severity
    investigating outage unable impact impacted customer customers user users multiple""".split()
)
"""Words that appear in incidents of every cause. Their weight is damped by `GENERIC_DAMPING`
on top of IDF, which matters while a corpus is still small."""

GENERIC_DAMPING = 0.25

_NUMBER_UNIT = (
    r"\b\d+(?:\.\d+)?\s?(?:"
    r"(?P<dur>(?:ns|us|µs|ms|s|sec|secs|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)\b)"
    r"|(?P<size>(?:[kmgtp]i?b|bytes?|b)\b)|(?P<pct>%))"
)
MASKS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("?", "", re.compile(r"\?[^\s#]*")),  # URL query strings: always volatile
    ("@", "<email>", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("-", "<uuid>", re.compile(r"\b[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}\b")),
    ("", "<ip>", re.compile(r"\b(?:ip-)?\d{1,3}(?:[.-]\d{1,3}){3}(?::\d{1,5})?\b")),
    ("::", "<ip>", re.compile(r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{1,4}\b")),
    # Kubernetes pods: <deployment>-<pod-template-hash>-<5 chars>, both from a vowel-free
    # alphabet; daemonset and job pods carry only the 5-char suffix (then it must hold a digit).
    ("-", " <pod>", re.compile(r"-[bcdfghjklmnpqrstvwxz2-9]{6,10}-[bcdfghjklmnpqrstvwxz2-9]{5}\b")),
    ("-", " <pod>", re.compile(r"-(?=[a-z]*[2-9])[bcdfghjklmnpqrstvwxz2-9]{5}\b")),
    ("", "<{unit}>", re.compile(_NUMBER_UNIT)),  # durations, sizes, percentages
)
"""(required character, placeholder, pattern) applied in order to lowercased text before it is
split into words; a mask runs only if its character (or, when empty, a digit) occurs. The
remaining digit-bearing words are handled word by word (`_word`)."""

_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"([a-z])(?=[A-Z])|([A-Z])(?=[A-Z][a-z])")  # sub with _CAMEL_SPLIT
_HEX = re.compile(r"[0-9a-f]+")
_SHORT_NAME = re.compile(r"[a-z]{1,2}\d+[a-z]*|\d[a-z]{1,3}|[a-z]\d[a-z]")
_HTTP_STATUS = re.compile(r"[45]\d\d")
_WORD_CACHE: dict[str, str] = {}
_WORD_CACHE_LIMIT = 200_000


def normalise(text: str) -> str:
    """Lowercase `text` and replace volatile tokens with placeholders (`<ip>`, `<pod>`, `<num>`…).

    Meant for display and debugging ("what did the matcher see?"); `tokens` is what is compared.
    """
    masked = _mask(_camel(text).lower(), keep_placeholders=True)
    out: list[str] = []
    for raw in re.split(r"(\s+)", masked):
        if raw.isspace() or not raw or raw.startswith("<"):
            out.append(raw)
            continue
        out.append(_WORD.sub(lambda m: _display_word(m.group(0)), raw))
    return "".join(out)


def tokens(text: str) -> list[str]:
    """Masked, stop-word-free, stemmed words of `text`, in order (duplicates kept).

    CamelCase is split first (`DBConnectionPoolExhausted` -> db connection pool exhausted).
    """
    result: list[str] = []
    append = result.append
    cache = _WORD_CACHE
    for raw in _raw_words(text):
        word = cache.get(raw)
        if word is None:
            if raw.isdigit():  # numbers are volatile, except HTTP status codes
                word = raw if len(raw) == 3 and raw[0] in "45" else ""
            else:
                word = _word(raw)
                if len(cache) < _WORD_CACHE_LIMIT and raw.isalpha():
                    cache[raw] = word
        if word:
            append(word)
    return result


def surface_forms(text: str) -> dict[str, str]:
    """Map each stem in `text` to the first word it came from, to explain matches in the
    user's words (`exhaust` -> `exhausted`)."""
    forms: dict[str, str] = {}
    for raw in _raw_words(text):
        word = _word(raw)
        if word and word not in forms:
            forms[word] = raw if raw.isalpha() else word
    return forms


def ngrams(words: Sequence[str], n: int = 2) -> list[str]:
    """Word n-grams (shingles) joined by a space: `ngrams(["a", "b", "c"])` -> `["a b", "b c"]`."""
    if n < 1:
        raise ValueError("n must be at least 1")
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def stem(word: str) -> str:
    """A light suffix stemmer: plurals, -ing, -ed, -ion(s), -ly, trailing -e.

    Deliberately conservative (never below four letters) so that different words rarely
    collide: `exhausted`, `exhaustion` -> `exhaust`; `connections` -> `connect`; `refused` ->
    `refus`; a doubled final consonant is undone (`lagging` -> `lag`).
    """
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ion", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            if suffix != "ion" and word[-1] == word[-2] and word[-1] in _UNDOUBLE:
                word = word[:-1]  # lagging -> lag, stopped -> stop (but falling -> fall)
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


class TermStats:
    """Document frequencies of words over a corpus, giving IDF weights.

    `TermStats.from_documents(docs)` counts each word once per document. A word never seen
    gets the IDF of a word seen once. Words in `GENERIC_WORDS` are further damped.
    """

    __slots__ = ("_cache", "df", "documents")

    def __init__(self, df: Mapping[str, int], documents: int) -> None:
        self.df: dict[str, int] = dict(df)
        self.documents = max(documents, 0)
        self._cache: dict[str, float] = {}

    @classmethod
    def from_documents(cls, documents: Iterable[Iterable[str]]) -> TermStats:
        """Count, for each word, how many of the documents contain it."""
        df: Counter[str] = Counter()
        count = 0
        for words in documents:
            df.update(set(words))
            count += 1
        return cls(df, count)

    def idf(self, word: str) -> float:
        """Smoothed inverse document frequency: ln((N + 1) / (df + 1)) + 1, generic words damped."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        value = math.log((self.documents + 1) / (self.df.get(word, 0) + 1)) + 1.0
        if word in _GENERIC_STEMS:
            value *= GENERIC_DAMPING
        self._cache[word] = value
        return value

    def weigh(self, words: Iterable[str]) -> WeightedTerms:
        """Unit-length vector: (1 + ln tf) x IDF per word, divided by the Euclidean norm."""
        cached = self._cache.get
        vector: dict[str, float] = {}
        total = 0.0
        for word, count in Counter(words).items():
            weight = cached(word)
            if weight is None:
                weight = self.idf(word)
            if count > 1:
                weight *= 1.0 + math.log(count)
            vector[word] = weight
            total += weight * weight
        if not total:
            return {}
        norm = math.sqrt(total)
        return {k: v / norm for k, v in vector.items() if v}


def unit(vector: Mapping[str, float]) -> WeightedTerms:
    """`vector` scaled to Euclidean length 1 (an empty or all-zero vector stays empty)."""
    norm = math.sqrt(sum(v * v for v in vector.values()))
    if norm == 0.0:
        return {}
    return {k: v / norm for k, v in vector.items() if v}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Dot product of two unit vectors (cosine similarity, 0..1 for non-negative weights)."""
    if len(a) > len(b):
        a, b = b, a
    total = 0.0
    for key, weight in a.items():
        other = b.get(key)
        if other is not None:
            total += weight * other
    return min(total, 1.0)


def shared_terms(a: Mapping[str, float], b: Mapping[str, float], *, limit: int = 5) -> list[str]:
    """The words present in both vectors, heaviest contribution to the cosine first."""
    common = [(a[k] * b[k], k) for k in a.keys() & b.keys()]
    common.sort(key=lambda pair: (-pair[0], pair[1]))
    return [k for _, k in common[:limit]]


def key_terms(vector: Mapping[str, float], *, limit: int = 6) -> list[str]:
    """The `limit` heaviest words of a vector (ties by word): the blocking signature."""
    ranked = sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))
    return [k for k, _ in ranked[:limit]]


_UNDOUBLE = frozenset("bdgmnprt")
_GENERIC_STEMS: frozenset[str] = frozenset(stem(w) for w in GENERIC_WORDS)


def _camel(text: str) -> str:
    """Split CamelCase words (`DBConnectionPool` -> `DB Connection Pool`)."""
    return _CAMEL.sub(r"\1\2 ", text) if not text.islower() else text


def _raw_words(text: str) -> list[str]:
    return _WORD.findall(_mask(_camel(text).lower(), keep_placeholders=False))


def _mask(text: str, *, keep_placeholders: bool) -> str:
    has_digit = _DIGIT.search(text) is not None
    for needed, placeholder, pattern in MASKS:
        if (needed and needed not in text) or (not needed and not has_digit):
            continue
        if not keep_placeholders:
            text = pattern.sub(" ", text)
        elif placeholder == "<{unit}>":
            text = pattern.sub(lambda m: f"<{m.lastgroup}>", text)
        else:
            text = pattern.sub(placeholder, text)
    return text


_DIGIT = re.compile(r"\d")


def _word(raw: str) -> str:
    """One raw lowercase word -> its stem, or "" when it is volatile or a stop word."""
    if raw.isdigit():
        return raw if len(raw) == 3 and _HTTP_STATUS.fullmatch(raw) else ""
    if raw.isalpha():
        if raw in STOP_WORDS or len(raw) < 2:
            return ""
        return stem(raw)
    # Mixed letters and digits.
    if len(raw) >= 6 and _HEX.fullmatch(raw):
        return ""  # hex id, hash, commit sha
    if _SHORT_NAME.fullmatch(raw) and len(raw) <= 5:
        return raw  # technical names: p99, s3, ec2, k8s, 5xx, x509
    digits = sum(c.isdigit() for c in raw)
    if len(raw) >= 6 and digits >= 2 and not raw.rstrip("0123456789").isalpha():
        return ""  # random id such as 3nxy7abc9
    letters = raw.rstrip("0123456789")
    if letters.isalpha() and len(letters) >= 2:
        return "" if letters in STOP_WORDS else stem(letters)  # node17 -> node
    return ""


def _display_word(raw: str) -> str:
    if raw.isdigit():
        return raw if _HTTP_STATUS.fullmatch(raw) else "<num>"
    if raw.isalpha():
        return raw
    word = _word(raw)
    if not word:
        return "<id>"
    return raw if word == raw else raw.rstrip("0123456789") + "<num>"
