from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import MINI

from pipeline.anthology.blinding import blind
from pipeline.anthology.curation import curated_identities, curation_of
from pipeline.anthology.registry import Registry
from pipeline.anthology.snapshot import read_snapshot
from pipeline.evaluate.metrics import score_block, score_clustering


def test_b3_of_one_cluster_per_name() -> None:
    # gold {a,a,b}: precision per mention 2/3, 2/3, 1/3; recall 1.
    s = score_block(["a", "a", "b"], ["x", "x", "x"])
    assert s.b3_precision == pytest.approx(5 / 9) and s.b3_recall == 1.0
    assert (s.true_pairs, s.predicted_pairs, s.correct_pairs) == (1, 3, 1)


def test_perfect_and_fully_split() -> None:
    assert score_block(["a", "a", "b"], [1, 1, 2]).b3_f1 == 1.0
    split = score_block(["a", "a"], [1, 2])
    assert split.b3_precision == 1.0 and split.b3_recall == 0.5 and split.pair_recall == 0.0


def test_scores_add_up_over_blocks() -> None:
    gold = pd.Series(["a", "a", "b", "c"], index=[10, 11, 12, 13])
    pred = pd.Series(["x", "y", "z", "z"], index=[10, 11, 12, 13])
    block = pd.Series(["n1", "n1", "n2", "n2"], index=[10, 11, 12, 13])
    per_block = score_clustering(gold, pred, block)
    assert set(per_block) == {"n1", "n2"}
    total = per_block["n1"] + per_block["n2"]
    assert total.mentions == 4 and total.b3_recall == pytest.approx(0.75)


def test_missing_predictions_are_an_error() -> None:
    with pytest.raises(ValueError, match="lacks mentions"):
        score_clustering(pd.Series(["a"], index=[1]), pd.Series([], dtype=object),
                         pd.Series(["n"], index=[1]))


def test_curation_joins_ids_and_orcids() -> None:
    snapshot = read_snapshot(MINI)
    m = snapshot.mentions
    gold = curated_identities(m, snapshot.registry)
    yang = m[(m["last"] == "Liu")]
    # explicit id + ORCID on one mention; the other Yang Liu has neither
    assert gold[yang.index[0]] is not None and gold[yang.index[1]] is None
    catch_all = m[m["id"] == "bo-li"]
    assert catch_all.empty or gold[catch_all.index].isna().all()


def test_blinding_strips_only_the_evaluated_names() -> None:
    snapshot = read_snapshot(MINI)
    blinded = blind(snapshot.mentions, ["yang-liu"])
    assert blinded.loc[blinded["slug"] == "yang-liu", ["id", "orcid"]].isna().all().all()
    assert blinded.loc[blinded["slug"] == "bo-li", "id"].notna().any()
    assert blinded.drop(columns=["id", "orcid"]).equals(
        snapshot.mentions.drop(columns=["id", "orcid"]))


def test_curated_blocks_need_two_curated_mentions(mini_dir: Path) -> None:
    assert curation_of(*_tables(mini_dir)).blocks == []  # no name has two gold mentions
    p99 = mini_dir / "xml" / "P99.xml"
    p99.write_text(p99.read_text().replace("<author><last>Li</last>",
                                           '<author id="bo-li-tiny"><last>Li</last>'))
    standard = curation_of(*_tables(mini_dir))
    assert standard.blocks == ["bo-li"] and not standard.multi_identity


def _tables(path: Path) -> tuple[pd.DataFrame, Registry]:
    snapshot = read_snapshot(path)
    return snapshot.mentions, snapshot.registry
