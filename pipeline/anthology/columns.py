"""What pandas does slowly on the snapshot's string columns, done by Arrow."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def isin(column: pd.Series, values: Iterable[str]) -> np.ndarray:
    """`column.isin(values).to_numpy()` for a column of strings (a missing value is in no
    set). pandas turns each of `values` into an Arrow scalar in Python (0.2 s for 35k names
    of the shared snapshot); Arrow's `is_in` takes a tenth of that."""
    array = pa.array(column, from_pandas=True)
    if pa.types.is_null(array.type):  # empty, or nothing but missing values
        return np.zeros(len(column), dtype=bool)
    wanted = pa.array(list(dict.fromkeys(values)), type=array.type)
    found = pc.is_in(array, value_set=wanted)
    return np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
