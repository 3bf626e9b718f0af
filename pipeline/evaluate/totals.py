"""Per-block scores summed into the report's figures: multi-identity, single, all."""

from __future__ import annotations

from pipeline.anthology.curation import Curation
from pipeline.evaluate.metrics import Scores


def totals(per_block: dict[str, Scores], gold: Curation) -> dict[str, dict[str, float]]:
    multi = sum((s for b, s in per_block.items() if b in gold.multi_identity), Scores())
    single = sum((s for b, s in per_block.items() if b not in gold.multi_identity), Scores())
    return {"multi": multi.summary(), "single": single.summary(),
            "all": (multi + single).summary()}
