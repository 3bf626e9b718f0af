"""Personal names: the Anthology's name slug, and normalised keys for comparing name strings.

The slug is the one the official `acl-anthology` library computes (`Name.slugify()`): the
python-slugify slug of "first last" with the library's own replacement rules. We call
python-slugify with the library's replacement table rather than build a `Name` object per
mention, which is an order of magnitude slower; tests check both agree.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache

from acl_anthology.people.name import SLUGIFY_REPLACEMENTS
from slugify import slugify

_REPLACEMENTS = [list(pair) for pair in SLUGIFY_REPLACEMENTS]
_NOT_SLUG_CHARS = re.compile(r"[^a-z0-9]+")
_ASCII_LETTER_OR_DIGIT = re.compile(r"[A-Za-z0-9]")
# A slug names a person's page and files (`names/<slug>.html`); no real name comes near.
MAX_SLUG_LENGTH = 200


def full_name(first: str | None, last: str) -> str:
    """The name as printed, "first last", or just the last name for a mononym.

    >>> full_name("Yang", "Liu")
    'Yang Liu'
    >>> full_name("", "Mausam")
    'Mausam'
    """
    return f"{first} {last}" if first else last


@cache
def name_slug(first: str | None, last: str) -> str:
    """The Anthology's slug of a name, as used in unverified person ids and name matching.

    >>> name_slug("Héctor", "Martínez Alonso")
    'hector-martinez-alonso'
    >>> name_slug(None, "Mausam")
    'mausam'
    """
    text = full_name(first, last)
    if text.isascii() and "&" not in text and "," not in text:
        # What python-slugify does to such text (no transliteration, entities or digit
        # grouping to handle), at a tenth of the cost; tests compare both on random names.
        return _NOT_SLUG_CHARS.sub("-", text.lower()).strip("-")
    return str(slugify(text, replacements=_REPLACEMENTS))


def slug_problem(first: str | None, last: str) -> str | None:
    """What keeps the name's slug from naming a person, or None: a name of punctuation alone
    (". -", "&amp;", a script the transliteration does not know) has an empty slug, and a
    slug longer than `MAX_SLUG_LENGTH` cannot name a person's page.

    >>> slug_problem("Yang", "Liu"), slug_problem("名", "李")
    (None, None)
    >>> slug_problem(".", "- !!")
    'an empty slug (no letter or digit the slug keeps)'
    """
    text = full_name(first, last)
    # ASCII text without entities keeps its ASCII letters and digits and gains nothing.
    if text.isascii() and "&" not in text and len(text) <= MAX_SLUG_LENGTH \
            and _ASCII_LETTER_OR_DIGIT.search(text):
        return None
    slug = name_slug(first, last)
    if not slug:
        return "an empty slug (no letter or digit the slug keeps)"
    if len(slug) > MAX_SLUG_LENGTH:
        return f"a slug longer than {MAX_SLUG_LENGTH} characters"
    return None


def strip_accents(text: str) -> str:
    """Remove combining marks after NFKD decomposition.

    >>> strip_accents("Martínez")
    'Martinez'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def first_initials(first: str | None) -> str:
    """Lower-case initials of the given names, hyphenated parts counted separately.

    >>> first_initials("Jean-Pierre A.")
    'jpa'
    >>> first_initials("")
    ''
    """
    if not first:
        return ""
    parts = strip_accents(first).replace("-", " ").replace(".", " ").split()
    return "".join(p[0].lower() for p in parts if p and p[0].isalpha())


def last_key(last: str) -> str:
    """Accent-, case- and punctuation-insensitive key of a last name.

    >>> last_key("Martínez Alonso")
    'martinezalonso'
    """
    return "".join(c for c in strip_accents(last).lower() if c.isalnum())


def canonical_name(names: Counter[tuple[str, str]]) -> tuple[str, str]:
    """The name the Anthology would show: the most frequent string, then the most complete
    (more name parts, then fewer initials, then accents kept), then alphabetical.

    >>> canonical_name(Counter({("Hector", "Martinez"): 2, ("Héctor", "Martínez Alonso"): 2}))
    ('Héctor', 'Martínez Alonso')
    >>> canonical_name(Counter({("T.", "Zielinski"): 4, ("Tomasz", "Zielinski"): 4}))
    ('Tomasz', 'Zielinski')
    """
    def rank(item: tuple[tuple[str, str], int]) -> tuple[int, int, int, bool, str, str]:
        (first, last), count = item
        tokens = f"{first} {last}".replace("-", " ").split()
        initials = sum(len(token.rstrip(".")) <= 1 for token in tokens)
        return (-count, -len(tokens), initials, (first + last).isascii(), first, last)

    return min(names.items(), key=rank)[0]
