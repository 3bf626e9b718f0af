"""Write what `resolve` produced: `assignments.csv`, `proposals.json`, `placements.csv`,
`ambiguity.csv`.

`proposals.json` holds `splits` (per name split into 2+ clusters: its clusters, persons,
evidence and papers; `split_proposals.py`) and `variants` (persons of several names to
merge, and `similar` links).

Both files are sorted and byte-for-byte deterministic for the same input and settings, and
written atomically.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from pipeline.anthology.atomic import atomic_write_files
from pipeline.resolve.assignment import PLACEMENT_COLUMNS
from pipeline.resolve.run import Resolution

ASSIGNMENT_COLUMNS = ["paper", "role", "position", "first", "last", "person", "status", "cluster",
                      "confidence"]


def assignments_csv(resolution: Resolution) -> str:
    return assignments_table_csv(resolution.assignments)


def assignments_table_csv(assignments: pd.DataFrame) -> str:
    return table_csv(assignments[ASSIGNMENT_COLUMNS])


def table_csv(table: pd.DataFrame) -> str:
    """`table` as CSV, floats with four decimals, missing values empty: the bytes of pandas'
    `to_csv(float_format="%.4f")`, with the float columns formatted first (pandas formats
    each float through several Python calls; this took a third of the time)."""
    formatted = {}
    for column in table.columns:
        values = table[column]
        if pd.api.types.is_float_dtype(values.dtype):
            floats = values.to_numpy(dtype=np.float64, na_value=np.nan).tolist()
            values = pd.Series([None if x != x else f"{x:.4f}" for x in floats],
                               index=table.index, dtype=object)
        formatted[column] = values
    buffer = io.StringIO()
    pd.DataFrame(formatted, index=table.index).to_csv(buffer, index=False,
                                                       lineterminator="\n")
    return buffer.getvalue()


def placements_csv(table: pd.DataFrame | None) -> str:
    """Mentions without a specific id placed among known persons, with their confidence
    and whether a curator should check them (`assignment.py`)."""
    if table is None:
        table = pd.DataFrame(columns=PLACEMENT_COLUMNS)
    return table_csv(table[PLACEMENT_COLUMNS])


def variant_proposals(resolution: Resolution) -> dict[str, Any]:
    """Persons to merge across names (each with its canonical name, name strings and the
    links that join it) and `similar` links, from `variants.py`."""
    variants = resolution.variants
    if variants is None:
        return {"merges": [], "similar": [], "model": {}}
    return {"merges": variants.merges(), "similar": variants.similar(),
            "model": variants.model}


def ambiguity_csv(resolution: Resolution) -> str:
    """Every name with 2+ mentions ranked by ambiguity score (then slug), with its features."""
    table = resolution.name_features.assign(score=resolution.ambiguity.round(4))
    table = table[table["mentions"] >= 2]
    table = table.rename_axis("name").reset_index()
    table = table.sort_values(["score", "name"], ascending=[False, True], kind="stable")
    columns = ["name", "score", "mentions", "commonness", "components", "years", "venues",
               "registry_persons", "catch_all"]
    return table_csv(table[columns])


def proposals_json(splits: list[dict[str, Any]], variants: dict[str, Any]) -> str:
    """Sorted keys, two-space indents, UTF-8 as is. msgspec writes the 22 MB of the full
    snapshot in 0.06 s; the standard library's pretty-printer, written in Python, took 0.75 s.
    The bytes are the standard library's but for floats it writes with an exponent
    (`0.00001`, not `1e-05`; `1e16`, not `1e+16`). A NaN or infinity raises ValueError, as
    the standard library's does with `allow_nan=False` (msgspec alone would write `null`)."""
    proposals = {"splits": splits, "variants": variants}
    _check_finite(proposals)
    encoded = _PROPOSALS_ENCODER.encode(proposals)
    return (msgspec.json.format(encoded, indent=2) + b"\n").decode("utf-8")


def _check_finite(value: Any) -> None:
    """Raise ValueError on the first NaN or infinity in nested dicts and lists.

    Walking the full snapshot's proposals takes 0.13-0.25 s, so it is walked only where its
    MessagePack encoding (0.03 s with the scan) holds the bytes of one: a float64 (0xcb)
    whose exponent is all ones. Those bytes cannot sit inside a UTF-8 string; inside an
    integer they only cost the walk."""
    if _NOT_FINITE.search(_MSGPACK_ENCODER.encode(value)) is None:
        return
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is dict:
            pending.extend(item.values())
        elif kind is list or kind is tuple:
            pending.extend(item)
        elif (kind is float or isinstance(item, np.floating)) and not math.isfinite(item):
            raise ValueError(f"proposals.json cannot hold {item!r} (not a finite number)")


def _plain_number(value: Any) -> Any:
    if isinstance(value, np.generic):  # a NumPy number left in the proposals
        return value.item()
    raise TypeError(f"proposals.json cannot hold a {type(value).__name__}")


_PROPOSALS_ENCODER = msgspec.json.Encoder(order="sorted", enc_hook=_plain_number)
_MSGPACK_ENCODER = msgspec.msgpack.Encoder(enc_hook=_plain_number)
_NOT_FINITE = re.compile(rb"\xcb[\x7f\xff][\xf0-\xff]")  # a NaN or infinity in MessagePack


def write_outputs(resolution: Resolution, out_dir: Path) -> list[Path]:
    """Write the outputs; returns the paths written. Every file is rendered before the first
    is written, so a failure leaves the directory as it was."""
    return write_texts({
        "assignments.csv": assignments_csv(resolution),
        "ambiguity.csv": ambiguity_csv(resolution),
        "placements.csv": placements_csv(resolution.placements),
        "proposals.json": proposals_json(resolution.splits,
                                         variant_proposals(resolution)),
    }, out_dir)


def write_texts(texts: dict[str, str], out_dir: Path) -> list[Path]:
    """Each text to its file name in `out_dir`, all replaced together (`atomic_write_files`);
    returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    contents = {out_dir / name: text.encode("utf-8") for name, text in texts.items()}
    atomic_write_files(contents)
    return list(contents)
