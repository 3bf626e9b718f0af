"""Add, change or remove `id` (and `orcid`) attributes of `<author>`/`<editor>` elements of a
volume file, changing nothing else.

The patcher works on the file's text, not on a parsed tree, so every byte outside the edited
attributes stays as it was (an XML round trip through a parser would re-quote attributes,
re-encode characters and re-indent). It scans start tags in document order, tracking the
collection, volume and paper they belong to, and numbers `<author>` and `<editor>` elements
per item exactly as the reader does (`volume_xml.py`), so a mention key (item id, role,
position) from the tables finds its element. `add_person_ids` (the exporter's patch) never
changes an id already in the XML: a different one is reported and left alone.
`edit_mention_attributes` (the migration's patch) changes or removes values only where they
still are what the caller expects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from acl_anthology.utils.ids import build_id

from pipeline.anthology.volumes import MentionKey

_TOKEN = re.compile(
    r"<!--.*?-->"  # comments: skipped
    r"|<(?P<end>/)?(?P<tag>collection|volume|meta|paper|author|editor|variant)\b"
    r"(?P<attrs>[^>]*?)(?P<empty>/)?>",
    re.DOTALL,
)
_ID_ATTR = re.compile(r"""\bid\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# New ids follow [a-z0-9][-a-z0-9]+; upper case is accepted for ids a legacy registry already
# holds (e.g. yang-liu-Helsinki). Nothing else can reach an attribute value.
VALID_ID = re.compile(r"[A-Za-z0-9][-A-Za-z0-9]+")


@dataclass
class PatchResult:
    text: str
    added: int = 0  # attributes inserted
    changed: int = 0  # attribute values replaced
    removed: int = 0  # attributes removed
    already_set: int = 0
    conflicts: list[str] = field(default_factory=list)  # elements left alone, and why
    missing: list[MentionKey] = field(default_factory=list)  # keys not found in the file


# One requested change of one attribute: (name, value expected now, new value or None to
# remove). The element is left alone, and a conflict reported, when the value now differs.
AttributeChange = tuple[str, str | None, str | None]
EDITABLE_ATTRIBUTES = ("id", "orcid")


def _attr_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"""(\s+){name}\s*=\s*(?:"([^"]*)"|'([^']*)')""")


_ATTR_PATTERNS = {name: _attr_pattern(name) for name in EDITABLE_ATTRIBUTES}


def _attr(attrs: str, name: str) -> str | None:
    match = _ATTR_PATTERNS[name].search(attrs)
    if match is None:
        return None
    return match.group(2) if match.group(2) is not None else match.group(3)


def _attr_id(attrs: str) -> str | None:
    match = _ID_ATTR.search(attrs)
    if match is None:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)


def _mention_tags(text: str) -> Iterator[tuple[re.Match[str], MentionKey]]:
    """Every `<author>`/`<editor>` start tag with its mention key, in document order."""
    collection = volume = item = ""
    in_meta = in_variant = False
    counts: dict[tuple[str, str], int] = {}
    for match in _TOKEN.finditer(text):
        tag = match.group("tag")
        if tag is None:
            continue
        closing = match.group("end") is not None
        attrs = match.group("attrs") or ""
        if tag == "variant":
            in_variant = not closing and match.group("empty") is None
            continue
        if closing:
            if tag == "meta":
                in_meta = False
            elif tag == "paper":
                item = ""
            continue
        if tag == "collection":
            collection = _attr_id(attrs) or ""
        elif tag == "volume" and not in_meta:  # old files also have <meta><volume>1</volume>
            volume = _attr_id(attrs) or ""
        elif tag == "meta":
            in_meta = True
        elif tag == "paper":
            item = build_id(collection, volume, _attr_id(attrs) or "")
        elif not in_variant and (item or in_meta):
            owner = item or build_id(collection, volume)
            position = counts.get((owner, tag), 0)
            counts[(owner, tag)] = position + 1
            yield match, (owner, tag, position)


def _apply_change(attrs: str, change: AttributeChange, result: PatchResult) -> str:
    name, _, new = change
    pattern = _ATTR_PATTERNS[name]
    match = pattern.search(attrs)
    if match is None:
        if new is None:
            return attrs
        result.added += 1
        return f' {name}="{escape(new, {chr(34): "&quot;"})}"' + attrs
    if new is None:
        result.removed += 1
        return attrs[: match.start()] + attrs[match.end():]
    result.changed += 1
    quote = '"' if match.group(2) is not None else "'"
    value = escape(new, {quote: "&quot;" if quote == '"' else "&apos;"})
    return (attrs[: match.start()] + f"{match.group(1)}{name}={quote}{value}{quote}"
            + attrs[match.end():])


def edit_mention_attributes(text: str, edits: Mapping[MentionKey, Sequence[AttributeChange]]
                            ) -> PatchResult:
    """Set, change or remove `id`/`orcid` attributes of the given mentions; nothing else.

    Each change states the value it expects now; an element whose value differs is left
    alone and reported as a conflict, so a patch never overwrites what a curator changed in
    the meantime.
    """
    for requested in edits.values():
        for name, _, new in requested:
            if name not in EDITABLE_ATTRIBUTES:
                raise ValueError(f"only {', '.join(EDITABLE_ATTRIBUTES)} can be edited, "
                                 f"not {name!r}")
            if name == "id" and new is not None and not VALID_ID.fullmatch(new):
                raise ValueError(f"not a valid person id: {new!r}")
    pieces: list[str] = []
    last = 0
    result = PatchResult(text="")
    found: set[MentionKey] = set()
    for match, key in _mention_tags(text):
        changes = edits.get(key)
        if changes is None:
            continue
        found.add(key)
        tag = match.group("tag")
        attrs = match.group("attrs") or ""
        stale = [(name, expected, _attr(attrs, name)) for name, expected, _ in changes
                 if _attr(attrs, name) != expected]
        if stale:
            result.conflicts.extend(
                f"{tag} {key[2]} of {key[0]} has {name} {now!r}, expected {expected!r}; "
                "not changed" for name, expected, now in stale)
            continue
        new_attrs = attrs
        for change in changes:
            if change[1] == change[2]:
                result.already_set += 1
                continue
            new_attrs = _apply_change(new_attrs, change, result)
        if new_attrs != attrs:
            attrs_start = match.start("attrs")
            pieces.append(text[last:attrs_start])
            pieces.append(new_attrs)
            last = match.end("attrs")
    pieces.append(text[last:])
    result.text = "".join(pieces)
    result.missing = sorted(set(edits) - found)
    return result


def add_person_ids(text: str, ids: Mapping[MentionKey, str]) -> PatchResult:
    """Insert `id` attributes for the given mentions; see the module docstring."""
    for value in ids.values():
        if not VALID_ID.fullmatch(value):
            raise ValueError(f"not a valid person id: {value!r}")
    present: dict[MentionKey, str | None] = {
        key: _attr_id(match.group("attrs") or "") for match, key in _mention_tags(text)
        if key in ids}
    edits: dict[MentionKey, list[AttributeChange]] = {}
    conflicts = []
    already_set = 0
    for key, wanted in ids.items():
        if key not in present:
            continue
        now = present[key]
        if now is None:
            edits[key] = [("id", None, wanted)]
        elif now == wanted:
            already_set += 1
        else:
            conflicts.append(f"{key[1]} {key[2]} of {key[0]} has id {now!r}; not changed to "
                             f"{wanted!r}")
    result = edit_mention_attributes(text, edits)
    result.already_set += already_set
    result.conflicts = conflicts + result.conflicts
    result.missing = sorted(set(ids) - set(present))
    return result
