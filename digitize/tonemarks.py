"""Tone-mark correction of low-confidence Vietnamese words, by context.

Tesseract often reads a stacked tone mark on a circumflex vowel as one mark
("phố" as "phó", "hết" as "hét", "Tổ quốc" as "Tô quôc"); each wrong form is
itself a syllable, so only the neighbours tell. For a word Tesseract is unsure
of (confidence below a threshold), every syllable with the same letters
(diacritics aside) is a candidate, scored by a syllable bigram model:

    score(w) = log P(w | previous) + log P(next | w)

with P(b | a) = (count(a b) + K * P(b)) / (count(a) + K) and P(b) an add-0.1
unigram. The candidate replaces the word only when it beats Tesseract's reading
by ``margin`` (natural log) **and** the context supports it: the candidate was
seen beside one of the neighbours and Tesseract's reading never was (a rare
word the model does not know is not turned into a common one). A word Tesseract is sure of is never touched, nor
a word with letters other than Vietnamese ones (numbers, codes, abbreviations).

The model (``digitize/data/vi_syllables.json.gz``: unigram and bigram counts of
lower-case syllables) is counted by ``bench/tone_model.py`` from public-domain
and CC0 Vietnamese text; see ``bench/README.md``.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

#: The shipped syllable model.
MODEL_PATH = Path(__file__).with_name("data") / "vi_syllables.json.gz"
#: Combining tone marks (grave, acute, tilde, hook above, dot below) and vowel marks (circumflex, breve, horn).
_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323\u0302\u0306\u031b")
#: Weight of the unigram in the bigram estimate.
K = 2.0
#: A syllable: Vietnamese letters only.
_SYLLABLE = re.compile(r"^[a-zđàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]+$")
_SPLIT = re.compile(r"^(\W*)(.*?)(\W*)$", re.UNICODE)


def skeleton(syllable: str) -> str:
    """The letters of a syllable without any diacritic but đ, lower case: "Phố" -> "pho"."""
    decomposed = unicodedata.normalize("NFD", syllable.lower())
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _MARKS))


def syllables(text: str) -> list[str]:
    """The lower-case syllables of a text, in order; anything else (numbers, punctuation) is a break ("")."""
    out = []
    for token in unicodedata.normalize("NFC", text).lower().split():
        core = _SPLIT.match(token).group(2)  # type: ignore[union-attr]
        out.append(core if _SYLLABLE.match(core) else "")
        if _SPLIT.match(token).group(3):  # type: ignore[union-attr]
            out.append("")  # punctuation after a word ends the context
    return out


@dataclass(frozen=True)
class ToneModel:
    """Syllable unigram and bigram counts, and the syllables of each skeleton."""

    unigrams: dict[str, int]
    bigrams: dict[str, int]  # "a b" -> count
    total: int
    by_skeleton: dict[str, tuple[str, ...]]

    @classmethod
    def from_counts(cls, unigrams: dict[str, int], bigrams: dict[str, int]) -> ToneModel:
        groups: dict[str, list[str]] = {}
        for syllable in unigrams:
            groups.setdefault(skeleton(syllable), []).append(syllable)
        return cls(unigrams, bigrams, sum(unigrams.values()), {k: tuple(sorted(v)) for k, v in groups.items()})

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> ToneModel:
        """Count the syllables and syllable pairs of ``texts``."""
        unigrams: Counter[str] = Counter()
        bigrams: Counter[str] = Counter()
        for text in texts:
            sequence = syllables(text)
            unigrams.update(s for s in sequence if s)
            bigrams.update(f"{a} {b}" for a, b in zip(sequence, sequence[1:], strict=False) if a and b)
        return cls.from_counts(dict(unigrams), dict(bigrams))

    def to_json(self) -> dict[str, object]:
        return {"unigrams": dict(sorted(self.unigrams.items())), "bigrams": dict(sorted(self.bigrams.items()))}

    def unigram(self, syllable: str) -> float:
        return (self.unigrams.get(syllable, 0) + 0.1) / (self.total + 0.1 * (len(self.unigrams) + 1))

    def bigram(self, first: str, second: str) -> float:
        """P(second | first), the unigram when ``first`` is no syllable."""
        if not first:
            return self.unigram(second)
        return (self.bigrams.get(f"{first} {second}", 0) + K * self.unigram(second)) / (
            self.unigrams.get(first, 0) + K)

    def score(self, previous: str, syllable: str, following: str) -> float:
        """log P(syllable | previous) + log P(following | syllable) (the latter only when there is one)."""
        score = math.log(self.bigram(previous, syllable))
        if following:
            score += math.log(self.bigram(syllable, following)) - math.log(self.unigram(following))
        return score

    def support(self, previous: str, syllable: str, following: str) -> int:
        """How often ``syllable`` was seen after ``previous`` or before ``following``."""
        return self.bigrams.get(f"{previous} {syllable}", 0) + self.bigrams.get(f"{syllable} {following}", 0)

    def candidates(self, syllable: str) -> tuple[str, ...]:
        return self.by_skeleton.get(skeleton(syllable), ())


@functools.cache
def load_model(path: Path = MODEL_PATH) -> ToneModel:
    """The syllable model shipped with the package (read once per process)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = json.load(f)
    return ToneModel.from_counts(data["unigrams"], data["bigrams"])


def correct(words: Sequence[str], confidences: Sequence[float], model: ToneModel, *, below: float,
            margin: float = 2.0) -> dict[int, str]:
    """The words to change, by index: for each word with a confidence under ``below`` whose best
    tone-mark variant in context beats it by ``margin``. ``words`` are in reading order."""
    parts = [_SPLIT.match(unicodedata.normalize("NFC", w)).groups() for w in words]  # type: ignore[union-attr]
    cores = [core.lower() if _SYLLABLE.match(core.lower()) else "" for _, core, _ in parts]
    changes: dict[int, str] = {}
    for _ in range(2):  # the second pass reads each word beside its corrected neighbours
        context = [changes[i].lower() if i in changes else c for i, c in enumerate(cores)]
        context = [_SPLIT.match(c).group(2) if c else "" for c in context]  # type: ignore[union-attr]
        changes = {}
        for i, conf in enumerate(confidences):
            lower = cores[i]
            if conf < 0 or conf >= below or not lower:
                continue
            head, core, tail = parts[i]
            previous = context[i - 1] if i > 0 and not head and not parts[i - 1][2] else ""
            following = context[i + 1] if i + 1 < len(cores) and not tail and not parts[i + 1][0] else ""
            original = model.score(previous, lower, following)
            best, best_score = lower, original
            for candidate in model.candidates(lower):
                score = model.score(previous, candidate, following)
                if score > best_score:
                    best, best_score = candidate, score
            if (best != lower and best_score - original >= margin
                    and model.support(previous, best, following) > 0 and model.support(previous, lower, following) == 0):
                changes[i] = head + _same_case(core, best) + tail
    return changes


def _same_case(original: str, replacement: str) -> str:
    """``replacement`` in the case pattern of ``original`` (UPPER, Title or lower)."""
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement
