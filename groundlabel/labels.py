"""Class lists and the text prompts made from them.

Grounding DINO reads a prompt such as ``"cat. remote. tv remote."``: the model treats
``.``, ``?``, ``[CLS]`` and ``[SEP]`` as phrase delimiters, expects lower case and a
trailing dot, and reads at most ``max_text_len`` (256) tokens. A ``LabelSet`` keeps the
user's class names untouched (they appear in every output) and derives sanitised
phrases from them; ``build_prompts`` packs the phrases into as few prompts as fit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from groundlabel.errors import LabelSetError

_DELIMITERS = re.compile(r"[.?]")
_SPACES = re.compile(r"\s+")


def sanitize_phrase(text: str) -> str:
    """Lower-case a phrase and drop the characters the model reads as phrase ends.

    "St. Bernard" becomes "st bernard": one phrase, instead of "st" and "bernard".
    """
    return _SPACES.sub(" ", _DELIMITERS.sub(" ", text.lower())).strip()


@dataclass(frozen=True)
class LabelClass:
    """One class: its name as the user wrote it, and the phrases that prompt it."""

    name: str
    aliases: tuple[str, ...] = ()

    @property
    def phrases(self) -> tuple[str, ...]:
        """Phrases sent to the model: the aliases when given, else the name itself."""
        return tuple(sanitize_phrase(a) for a in (self.aliases or (self.name,)))


@dataclass(frozen=True)
class LabelSet:
    """An ordered set of classes; the order gives category ids and colours downstream."""

    classes: tuple[LabelClass, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.classes:
            raise LabelSetError("the class list is empty: give at least one class name")
        names: set[str] = set()
        phrases: dict[str, str] = {}
        for cls in self.classes:
            if not cls.name.strip():
                raise LabelSetError("a class name is empty (check for doubled commas)")
            if cls.name in names:
                raise LabelSetError(f"class {cls.name!r} is listed twice")
            names.add(cls.name)
            for raw, phrase in zip(cls.aliases or (cls.name,), cls.phrases, strict=True):
                if not phrase:
                    raise LabelSetError(
                        f"class {cls.name!r}: phrase {raw!r} has no words once '.' and '?' are removed"
                    )
                if phrase in phrases:
                    raise LabelSetError(
                        f"phrase {phrase!r} is used by both {phrases[phrase]!r} and {cls.name!r}; "
                        "each phrase must point to one class"
                    )
                phrases[phrase] = cls.name

    @classmethod
    def parse(cls, spec: str | Iterable[str]) -> LabelSet:
        """Parse ``"cat, remote control=remote|tv remote"`` or a list of such entries.

        ``name=alias|alias`` gives a class whose phrases are the aliases.
        """
        entries = spec.split(",") if isinstance(spec, str) else list(spec)
        classes = []
        for entry in entries:
            name, sep, alias_text = entry.partition("=")
            name = name.strip()
            aliases: tuple[str, ...] = ()
            if sep:
                aliases = tuple(a.strip() for a in alias_text.split("|"))
                if not all(aliases):
                    raise LabelSetError(f"class {name!r}: an alias is empty in {entry.strip()!r}")
            classes.append(LabelClass(name=name, aliases=aliases))
        if isinstance(spec, str) and not spec.strip():
            classes = []
        return cls(tuple(classes))

    @classmethod
    def from_names(cls, names: Sequence[str]) -> LabelSet:
        """Classes with no aliases, names taken literally (no ``=`` or ``,`` parsing)."""
        return cls(tuple(LabelClass(name=n) for n in names))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    def index(self, name: str) -> int:
        return self.names.index(name)

    def phrase_owners(self) -> list[tuple[str, int]]:
        """Every (phrase, class index) pair, in class order."""
        return [(p, i) for i, c in enumerate(self.classes) for p in c.phrases]

    def fingerprint(self) -> str:
        """A stable text that changes whenever the prompt would change."""
        return "|".join(f"{c.name}={'/'.join(c.phrases)}" for c in self.classes)


@dataclass(frozen=True)
class PromptChunk:
    """One model pass: the prompt text and which class owns each phrase's characters."""

    text: str
    # (start, end, class index) character spans of each phrase within ``text``.
    spans: tuple[tuple[int, int, int], ...]


def build_prompts(
    label_set: LabelSet, count_tokens: Callable[[str], int], max_tokens: int = 256
) -> list[PromptChunk]:
    """Pack the label set's phrases into prompts of at most ``max_tokens`` tokens.

    Phrases are never split across prompts, so every class is still found when a long
    class list needs several passes. ``count_tokens`` counts a phrase's word pieces
    without special tokens; two tokens per prompt go to ``[CLS]`` and ``[SEP]``, one per
    phrase to its dot.
    """
    budget = max_tokens - 2
    chunks: list[PromptChunk] = []
    text, spans, used = "", [], 0
    for phrase, owner in label_set.phrase_owners():
        cost = count_tokens(phrase) + 1
        if cost > budget:
            raise LabelSetError(
                f"phrase {phrase!r} is {cost} tokens, more than the model reads at once ({budget}); shorten it"
            )
        if used + cost > budget:
            chunks.append(PromptChunk(text, tuple(spans)))
            text, spans, used = "", [], 0
        start = len(text) + (1 if text else 0)
        text = f"{text} {phrase}." if text else f"{phrase}."
        spans.append((start, start + len(phrase), owner))
        used += cost
    chunks.append(PromptChunk(text, tuple(spans)))
    return chunks
