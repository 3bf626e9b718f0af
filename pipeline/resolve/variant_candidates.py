"""Pairs of name strings that may be one person, found without comparing all pairs.

Every name slug (one author page's worth of name strings) gets a few blocking keys from its
folded tokens (transliterated and lower-cased as in the slug, split at spaces, hyphens and
dots). Two slugs sharing a key become a candidate when their tokens are compatible, and the
candidate keeps the *kind* of difference, which sets how much a name string alone says
(`variant_decision`):

- `spelling`: the same letters, spaced differently (Ben Hamadou / Benhamadou); accents, case
  and hyphens alone give one slug already (Héctor / Hector, Al-Thubaity / Al Thubaity);
- `order`: the same tokens in another order (Do Long / Long Do);
- `abbreviation`: tokens dropped, or cut to initials or short forms, one given and one
  family name kept (A. Feder Cooper / A. Cooper, Aaron Steven White / Aaron White, Khalid
  Al Khatib / Khalid Khatib, Héctor Martínez Alonso / Hector Martinez, Y. Liu / Yang Liu,
  Chris / Christopher Dyer, Md Nishat Raihan / Nishat Raihan), or the family names cut to
  their initials, the given names in full (Malliga S / Malliga Subramanian, a common form of
  South Indian names);
- `nickname`: the first given name is a known nickname of the other's (Bill / William
  Byrne, Kathy / Kathleen R. McKeown, Ted / Edward Briscoe; the hand-curated English table
  of the `nicknames` library), the rest as for an abbreviation;
- `typo`: one edit in one token of 4+ letters, the others equal (Mohammed / Mohammad,
  Tateishi / Tateisi); only strong graph evidence makes these a merge.

Two pinyin names are never a short form (Jun / Junhui) or a typo (Qiao / Xiao) of each
other: each is a complete name (`PINYIN_SYLLABLES`). Nor are two Korean or Taiwanese given
names (romanized syllables, `EAST_ASIAN_SYLLABLES`) when one has two syllables: Jaewoo /
Jaewook, Jae-hee / Jaesong, Minsoo / Minwoo are different names; a single syllable may be
one syllable romanized two ways (Shi / Shih Ting Huang), so those stay candidates.

The keys: the compact string (all tokens joined), the sorted tokens, each given name's
initial with each later name (compared only where the given names are compatible, so a block
like "y|wang" with hundreds of slugs stays cheap), the name with one token left out (the
left-out tokens of a block compared for one edit), the full form of a nickname with the
family names (Bill Byrne and William J. Byrne both file under "william|byrne"), and the given
names with the family name's initial (`f:` keys, compared only where one of the two names has
initials for family names, so that a block like "david|s" stays cheap).
`candidate_index.py` finds the pairs that share a key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
from nicknames import NickNamer
from rapidfuzz.distance import Levenshtein

from pipeline.anthology.names import name_slug

VariantKind = Literal["spelling", "order", "abbreviation", "nickname", "typo"]
TYPO_MIN_LENGTH = 4  # shorter names are too often another name one edit away
KIND_ORDER: tuple[VariantKind, ...] = ("spelling", "order", "abbreviation", "nickname", "typo")


@dataclass(frozen=True)
class NameTokens:
    """A name string folded into tokens: given names, then family names."""

    given: tuple[str, ...]
    family: tuple[str, ...]
    # Given then family names: read several times per candidate pair, so kept.
    all: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "all", self.given + self.family)

    @classmethod
    def of(cls, first: str | None, last: str) -> NameTokens:
        """
        >>> NameTokens.of("Héctor", "Martínez-Alonso")
        NameTokens(given=('hector',), family=('martinez', 'alonso'))
        >>> NameTokens.of("A.", "Feder Cooper")
        NameTokens(given=('a',), family=('feder', 'cooper'))
        """
        return cls(_tokens(first or ""), _tokens(last))


@lru_cache(maxsize=1 << 16)  # given and family names recur across the snapshot's names
def _tokens(text: str) -> tuple[str, ...]:
    """Transliterated like the Anthology's slugs, so "Łukasz" and "Lukasz" agree."""
    return tuple(t for t in name_slug(None, text).split("-") if t) if text else ()


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=1 << 16)
def full_forms(given: str) -> tuple[str, ...]:
    """The given names `given` is a nickname of, and itself if it has nicknames (sorted).

    >>> "william" in full_forms("bill"), "william" in full_forms("william"), full_forms("junhui")
    (True, True, ())
    """
    table = _nicknamer()
    forms = set(table.canonicals_of(given))
    if table.nicknames_of(given):
        forms.add(given)
    return tuple(sorted(form for form in forms if not _both_pinyin(form, given)))


def _known_nickname(a: str, b: str) -> bool:
    """One given name is a nickname of the other (not two pinyin names)."""
    table = _nicknamer()
    return a != b and (b in table.nicknames_of(a) or a in table.nicknames_of(b)) \
        and not _both_pinyin(a, b)


def family_initial_key(name: NameTokens) -> str:
    """The `f:` key: the given names, written in full and not all pinyin (a Chinese given
    name with a family initial fits too many people to compare), with the family name's
    initial; "" for other names."""
    if not name.given or not name.family or any(len(g) < 2 for g in name.given) \
            or all(is_pinyin_name(g) for g in name.given):
        return ""
    return f"f:{' '.join(name.given)}|{name.family[0][0]}"


def family_initials(name: NameTokens) -> bool:
    """The name has an `f:` key and its family names are initials.

    >>> family_initials(NameTokens.of("Malliga", "S")), family_initials(NameTokens.of("Wei", "Z"))
    (True, False)
    """
    return bool(family_initial_key(name)) and all(len(t) == 1 for t in name.family)


def blocking_keys(name: NameTokens) -> set[str]:
    """The keys of a name. `i:` keys (an initial, a later name, the given name the initial
    came from) are compared by given name; `t:` keys (the name with one token left out, and
    which) find one-edit typos in the token left out; `n:` keys (the full form of the first
    given name, the family names) find nicknames; `f:` keys (`family_initial_key`) find family
    names cut to initials.

    >>> sorted(blocking_keys(NameTokens.of("Long", "Do")))
    ['c:longdo', 'i:l|do|long', 's:do long', 't:0:do']
    >>> "n:william|byrne" in blocking_keys(NameTokens.of("Bill", "Byrne"))
    True
    """
    tokens = name.all
    if not tokens:
        return set()
    keys = {"c:" + "".join(tokens), "s:" + " ".join(sorted(tokens))}
    if name.given and name.family:
        keys.update(f"n:{form}|{' '.join(name.family)}" for form in full_forms(name.given[0]))
    if key := family_initial_key(name):
        keys.add(key)
    keys.update(f"i:{given[0]}|{later}|{given}" for index, given in enumerate(name.given)
                for later in tokens[index + 1:] if len(later) > 1)
    if len(tokens) > 1:
        keys.update(f"t:{index}:{' '.join(tokens[:index] + tokens[index + 1:])}"
                    for index in range(len(tokens)) if len(tokens[index]) >= TYPO_MIN_LENGTH)
    return keys


# Pinyin syllables (a superset: every initial with every final, but j, q and x only before
# i and u): a Chinese given name is one or two of them, and one such name is not a short
# form of another (Jun / Junhui, Wen / Wenjin), nor one syllable a typo of another (Qiao /
# Xiao, Chen / Cheng).
PINYIN_SYLLABLES = frozenset(
    initial + final
    for initial in ("", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x",
                    "zh", "ch", "sh", "r", "z", "c", "s", "y", "w")
    for final in ("a", "o", "e", "i", "u", "v", "ai", "ei", "ao", "ou", "an", "en", "ang",
                  "eng", "ong", "er", "ia", "ie", "iao", "iu", "ian", "in", "iang", "ing",
                  "iong", "ua", "uo", "uai", "ui", "uan", "un", "uang", "ueng", "ue", "van",
                  "vn", "ve")
    if initial not in ("j", "q", "x") or final[0] in "iuv")


@lru_cache(maxsize=1 << 16)
def is_pinyin_name(token: str, syllables: int = 2) -> bool:
    """The token is one to `syllables` pinyin syllables ("junhui", "wenjin", "xiao"); longer
    words read as pinyin are mostly other names (Tateishi).

    >>> is_pinyin_name("junhui"), is_pinyin_name("christopher"), is_pinyin_name("tateishi")
    (True, False, False)
    """
    if not token:
        return True
    if syllables == 0:
        return False
    return any(token[:end] in PINYIN_SYLLABLES and is_pinyin_name(token[end:], syllables - 1)
               for end in range(min(len(token), 6), 0, -1))


def _both_pinyin(a: str, b: str) -> bool:
    return is_pinyin_name(a) and is_pinyin_name(b)


# Syllables of Korean (Revised and McCune-Reischauer romanizations, as names are spelt) and
# Taiwanese (Wade-Giles) given names: what `syllable_count` reads. Pinyin names have their
# own rule (`_both_pinyin`); that table is generated and holds non-names ("pe", "ter").
KOREAN_SYLLABLES = frozenset("""
    ae bae baek beom bin bo bok bong bum byeong byung chae chan chang cheol cheon chi chool
    choon chul chun chung dae dal deok do dong duk eon eui eun eung gab geon geun gi gil gon
    goo gu gwang gyeong gyu gyun ha hae hak han hee heon ho hong hoo hoon hwa hwan hye hyeok
    hyeon hyeong hyo hyoung hyuk hyun hyung il in jae je jeong ji jin jo jong joo joon joong
    ju jun jung kang keun ki kook kuk kwan kwang kyeong kyo kyong kyoung kyu kyung mi min mo
    mok moon mun myeong myoung myung na nam ok pil pyo rae ran ri rim rin ro rok ryeong
    ryong sang se seo seob seok seon seong seop seul seung shik shin sik sin so sol son song
    soo sook soon su suk sun sung tae taek uk ung wan wi won woo wook woong yeo yeol yeon
    yeong yi yong yoo yoon young yu yul yun yung""".split())
WADE_GILES_SYLLABLES = frozenset("""
    chia chiao chieh chien chih chin ching chiu chou chu chuan chuang chun chung fang fei feng
    fu hsi hsia hsiang hsiao hsieh hsien hsin hsing hsiu hsu hsuan hsueh hsun hua huai huan
    huang hui hun hung jen jui jung kai kan kang kao kuan kuang kuei kun kuo lan li lien lin
    ling liu lun lung mei meng miao min ming nan ning pei peng pin ping po shan shang shao shen
    sheng shih shou shu shuo szu ta tai tang te teng ti tien ting tsai tsan tsang tse tseng tso
    tsu tsui tsun tsung tu tuan tung tzu wan wang wei wen wu ya yang yao yeh yen yi yin ying yu
    yuan yueh yun yung""".split())
EAST_ASIAN_SYLLABLES = KOREAN_SYLLABLES | WADE_GILES_SYLLABLES


@lru_cache(maxsize=1 << 16)
def syllable_count(token: str, most: int = 2) -> int | None:
    """The fewest `EAST_ASIAN_SYLLABLES` that spell `token`, if `most` or fewer do.

    >>> syllable_count("jaewook"), syllable_count("shih"), syllable_count("christopher")
    (2, 1, None)
    """
    if not token:
        return 0
    if most == 0:
        return None
    counts = [1 + rest for end in range(min(len(token), 6), 0, -1)
              if token[:end] in EAST_ASIAN_SYLLABLES
              and (rest := syllable_count(token[end:], most - 1)) is not None]
    return min(counts, default=None)


def _two_complete_names(a: str, b: str, given: bool) -> bool:
    """Neither token a short form or typo of the other, each a complete name: two pinyin
    names (Jun / Junhui, Qiao / Xiao), or, where both are `given` names, two Korean or
    Taiwanese ones, one of two syllables (Jaewoo / Jaewook, Seo / Seongjun)."""
    if _both_pinyin(a, b):
        return True
    if not given:
        return False
    count_a, count_b = syllable_count(a), syllable_count(b)
    return count_a is not None and count_b is not None and max(count_a, count_b) == 2


def _matches(a: str, b: str, given: bool = False) -> bool:
    """One token may stand for the other: equal, an initial, or a short form of 3+ letters
    (Chris / Christopher, Koldo / Koldobika), unless both are pinyin names (Jun / Junhui)
    or, where both are `given` names, Korean or Taiwanese ones (Jae / Jaesong)."""
    if a == b:
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return long.startswith(short) and (
        len(short) == 1 or (len(short) >= 3 and not _two_complete_names(short, long, given)))


def _abbreviates(short: NameTokens, long: NameTokens) -> bool:
    """`short` is `long` with tokens dropped, cut to initials or short forms: its tokens
    match some of `long`'s in order, one of its given names among them, and one of its
    family names (2+ letters) is in `long` as it is. Leading names of `long` may be dropped
    only when `short` starts with the next one in full. So "A. Cooper" abbreviates "A. Feder
    Cooper" and "Nishat Raihan" abbreviates "Md Nishat Raihan", but "J. Smith" does not
    abbreviate "John Smith-Jones" through initials alone, nor "Jinsung Kim" "Hyunwoo J.
    Kim", nor "Yang Liu" "Xu Liu"."""
    if not short.given or not short.family:
        return False
    targets = long.all
    position = 0
    for index, token in enumerate(short.all):
        while position < len(targets) and not _matches(
                token, targets[position],
                given=index < len(short.given) and position < len(long.given)):
            position += 1
        if position == len(targets):
            return False
        if index == 0 and position > 0 and (token != targets[position] or len(token) < 2):
            return False
        position += 1
    return any(len(t) > 1 and t in targets for t in short.family)


def _abbreviation(a: NameTokens, b: NameTokens) -> bool:
    short, long = (a, b) if len(a.all) <= len(b.all) else (b, a)
    return _abbreviates(short, long) or (len(a.all) == len(b.all) and _abbreviates(long, short)) \
        or _family_cut_to_initials(a, b) or _family_cut_to_initials(b, a)


def _family_cut_to_initials(short: NameTokens, long: NameTokens) -> bool:
    """`short` is `long` with its family names cut to initials (or dropped after the first):
    "Malliga S" / "Malliga Subramanian", "Lavanya S K" / "Lavanya Sambath Kumar"."""
    return family_initials(short) and short.given == long.given \
        and len(short.family) <= len(long.family) \
        and any(len(t) > 1 for t in long.family) \
        and all(s == t[0] for s, t in zip(short.family, long.family))


def _nickname(a: NameTokens, b: NameTokens) -> bool:
    """`a`'s first given name is a nickname of `b`'s or the other way round, and with it
    written as `b`'s the two names are equal or one abbreviates the other.

    >>> _nickname(NameTokens.of("Bill", "Byrne"), NameTokens.of("William J.", "Byrne"))
    True
    >>> _nickname(NameTokens.of("Bill", "Byrne"), NameTokens.of("William", "Burns"))
    False
    """
    if not a.given or not b.given or not _known_nickname(a.given[0], b.given[0]):
        return False
    renamed = NameTokens((b.given[0], *a.given[1:]), a.family)
    return renamed.all == b.all or _abbreviation(renamed, b)


def _one_edit(a: str, b: str) -> bool:
    return min(len(a), len(b)) >= TYPO_MIN_LENGTH and Levenshtein.distance(
        a, b, score_cutoff=1) == 1


def variant_kind(a: NameTokens, b: NameTokens) -> VariantKind | None:
    """How two folded names differ, if they may be one person's; None if they may not.

    >>> hector = NameTokens.of("Héctor", "Martínez Alonso")
    >>> variant_kind(NameTokens.of("Hector", "Martinez"), hector)
    'abbreviation'
    >>> variant_kind(NameTokens.of("Yang", "Liu"), NameTokens.of("Yi", "Liu")) is None
    True
    >>> variant_kind(NameTokens.of("Yuka", "Tateishi"), NameTokens.of("Yuka", "Tateisi"))
    'typo'
    >>> variant_kind(NameTokens.of("Kathy", "McKeown"), NameTokens.of("Kathleen R.", "McKeown"))
    'nickname'
    """
    ta, tb = a.all, b.all
    if not ta or not tb or ta == tb:
        return None
    if "".join(ta) == "".join(tb):
        return "spelling"
    if sorted(ta) == sorted(tb):
        return "order"
    if _abbreviation(a, b):
        return "abbreviation"
    if _nickname(a, b) or _nickname(b, a):
        return "nickname"
    if len(ta) == len(tb) and len(ta) > 1:
        differing = [(k, x, y) for k, (x, y) in enumerate(zip(ta, tb)) if x != y]
        if len(differing) == 1:
            k, x, y = differing[0]
            given = k < len(a.given) and k < len(b.given)
            if _one_edit(x, y) and not _two_complete_names(x, y, given):
                return "typo"
    return None


@dataclass(frozen=True)
class Candidate:
    """Two name slugs (sorted) that may be one person, and how their strings differ."""

    first: str
    second: str
    kind: VariantKind
    commonness: float = 0.0  # see `NameCounts.commonness`
    # One name is the other with its given names cut to initials ("D. Moldovan" / "Dan
    # Moldovan"), and no other name string of the snapshot or its registry spells those
    # initials out.
    sole_expansion: bool = False


def counted_parts(name: NameTokens) -> tuple[str, str]:
    """What `NameCounts` counts of a name: its first given name and its family names joined,
    or the first family name's initial if they are all initials.

    >>> counted_parts(NameTokens.of("A. Feder", "Cooper"))
    ('a', 'cooper')
    >>> counted_parts(NameTokens.of("Lavanya", "S K"))
    ('lavanya', 's')
    """
    family = name.family[0] if name.family and all(len(t) == 1 for t in name.family) \
        else "".join(name.family)
    return (name.given[0] if name.given else "", family)


@dataclass(frozen=True)
class NameCounts:
    """How many names (slugs) have each first given name, initial and family name."""

    given: Counter[str]
    initial: Counter[str]
    family: Counter[str]
    family_initial: Counter[str]
    names: int

    @classmethod
    def of(cls, names: Iterable[tuple[str, str]]) -> NameCounts:
        """`names`: the `counted_parts` of each name."""
        given: Counter[str] = Counter()
        family: Counter[str] = Counter()
        total = 0
        for first, family_name in names:
            total += 1
            given[first] += 1
            family[family_name] += 1
        return cls(given, _by_initial(given), family, _by_initial(family), total)

    def commonness(self, first: str, family: str) -> float:
        """Log of the number of people expected to have a name this string may stand for
        (as `ambiguity.name_commonness`, but a given or family name that is an initial counts
        every name with that initial): "Y. Liu" is common, "Yang Liu" less, "Yuka Tateishi" rare.
        `first`, `family`: the name's `counted_parts`.
        """
        given = self.initial[first] if len(first) == 1 else self.given[first]
        families = self.family_initial[family] if len(family) == 1 else self.family[family]
        return float(np.log(max(1, given) * max(1, families) / max(1, self.names)))


def _by_initial(counts: Counter[str]) -> Counter[str]:
    by_initial: Counter[str] = Counter()
    for name, count in counts.items():
        by_initial[name[:1]] += count
    return by_initial


def spells_out(short: NameTokens, long: NameTokens) -> bool:
    """`long` is `short` with each initial of its given names written out: the same family
    names, as many given names, at least one of them in full.

    >>> spells_out(NameTokens.of("D.", "Moldovan"), NameTokens.of("Dan", "Moldovan"))
    True
    >>> spells_out(NameTokens.of("A. L.", "Guenet"), NameTokens.of("Anne-Laure", "Guenet"))
    True
    >>> spells_out(NameTokens.of("D.", "Moldovan"), NameTokens.of("Dan I.", "Moldovan"))
    False
    """
    return (short.family == long.family and len(short.given) == len(long.given) > 0
            and all(len(g) == 1 for g in short.given)
            and any(len(g) > 1 for g in long.given)
            and all(g.startswith(s) for s, g in zip(short.given, long.given)))
