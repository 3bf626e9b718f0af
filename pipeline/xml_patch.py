"""Add `id="..."` to `<author>`/`<editor>` elements of a volume file, changing nothing else.

The patcher works on the file's text, not on a parsed tree, so every byte outside the inserted
attributes stays as it was (an XML round trip through a parser would re-quote attributes,
re-encode characters and re-indent). It scans start tags in document order, tracking the
collection, volume and paper they belong to, and numbers `<author>` and `<editor>` elements
per item exactly as the reader does (`volume_xml.py`), so a mention key (item id, role,
position) from the tables finds its element. An id already in the XML is never changed: a
different one is reported as a problem and left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from acl_anthology.utils.ids import build_id

from .volume_xml import MentionKey

_TOKEN = re.compile(
    r"<!--.*?-->"  # comments: skipped
    r"|<(?P<end>/)?(?P<tag>collection|volume|meta|paper|author|editor|variant)\b"
    r"(?P<attrs>[^>]*?)(?P<empty>/)?>",
    re.DOTALL,
)
_ID_ATTR = re.compile(r"""\bid\s*=\s*(?:"([^"]*)"|'([^']*)')""")
VALID_ID = re.compile(r"[a-z0-9][-a-z0-9]+")


@dataclass
class PatchResult:
    text: str
    added: int = 0
    already_set: int = 0
    conflicts: list[str] = field(default_factory=list)  # existing different ids, left alone
    missing: list[MentionKey] = field(default_factory=list)  # keys not found in the file


def _attr_id(attrs: str) -> str | None:
    match = _ID_ATTR.search(attrs)
    if match is None:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)


def add_person_ids(text: str, ids: Mapping[MentionKey, str]) -> PatchResult:
    """Insert `id` attributes for the given mentions; see the module docstring."""
    for value in ids.values():
        if not VALID_ID.fullmatch(value):
            raise ValueError(f"not a valid person id: {value!r}")
    pieces: list[str] = []
    last = 0
    collection = volume = item = ""
    in_meta = in_variant = False
    counts: dict[tuple[str, str], int] = {}
    result = PatchResult(text="")
    found: set[MentionKey] = set()
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
        elif tag == "volume":
            volume = _attr_id(attrs) or ""
        elif tag == "meta":
            in_meta = True
        elif tag == "paper":
            item = build_id(collection, volume, _attr_id(attrs) or "")
        elif not in_variant and (item or in_meta):
            owner = item or build_id(collection, volume)
            position = counts.get((owner, tag), 0)
            counts[(owner, tag)] = position + 1
            key: MentionKey = (owner, tag, position)
            wanted = ids.get(key)
            if wanted is None:
                continue
            found.add(key)
            present = _attr_id(attrs)
            if present is not None:
                if present == wanted:
                    result.already_set += 1
                else:
                    result.conflicts.append(
                        f"{tag} {position} of {owner} has id {present!r}; not changed to "
                        f"{wanted!r}")
                continue
            insert_at = match.start() + 1 + len(tag)
            pieces.append(text[last:insert_at])
            pieces.append(f' id="{wanted}"')
            last = insert_at
            result.added += 1
    pieces.append(text[last:])
    result.text = "".join(pieces)
    result.missing = sorted(set(ids) - found)
    return result
