"""The scorecard on hand-made data, where the right answer is known."""

import random

import pandas as pd
import pytest

from risk.scorecard import points_table, ranking_metrics, score_with_reasons, scorecard_train

BAD_RATE_OF_BAND = {"steady": 0.05, "variable": 0.25, "none": 0.6}


def hand_made(rows: int = 3000, seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    """An income band that decides the bad rate, and a number drawn at random that decides nothing."""
    draw = random.Random(seed)
    bands = [draw.choice(list(BAD_RATE_OF_BAND)) for _ in range(rows)]
    outcome = [int(draw.random() < BAD_RATE_OF_BAND[band]) for band in bands]
    noise = [draw.randrange(1000) for _ in range(rows)]
    return pd.DataFrame({"income_band": bands, "lucky_number": noise}), pd.Series(outcome)


def band_points(trained) -> dict:
    table = points_table(trained.scorecard)
    rows = table[table["Variable"] == "income_band"]
    return {band: rows.loc[rows["Bin"].str.contains(band), "Points"].iloc[0] for band in BAD_RATE_OF_BAND}


def test_the_band_that_decides_gets_points_in_the_order_of_its_risk_and_the_noise_is_left_out():
    trained = scorecard_train(*hand_made(), seed=1)
    assert trained.features == ["income_band"]
    points = band_points(trained)
    assert points["steady"] > points["variable"] > points["none"]
    assert trained.metrics["holdout"]["auc"] > 0.7
    assert trained.metrics["rows"] == {"training": 2100, "holdout": 900}


def test_a_higher_score_is_a_lower_probability_of_default():
    frame, outcome = hand_made()
    trained = scorecard_train(frame, outcome, seed=1)
    steady = score_with_reasons(trained.scorecard, {"income_band": "steady", "lucky_number": 1})
    none = score_with_reasons(trained.scorecard, {"income_band": "none", "lucky_number": 1})
    assert steady[0] > none[0] and steady[1] < none[1]
    assert none[1] == pytest.approx(0.6, abs=0.06)


def test_the_reason_is_the_points_lost_against_the_best_band():
    trained = scorecard_train(*hand_made(), seed=1)
    points = band_points(trained)
    _score, _probability, reasons = score_with_reasons(trained.scorecard, {"income_band": "none", "lucky_number": 5})
    assert [(reason.feature, reason.value) for reason in reasons] == [("income_band", "none")]
    assert reasons[0].points_lost == pytest.approx(points["steady"] - points["none"], abs=0.01)
    best = score_with_reasons(trained.scorecard, {"income_band": "steady", "lucky_number": 5})
    assert best[2] == []  # nothing lost, nothing to explain


def test_the_ranking_metrics_on_four_cases():
    # Bads at 0.35 and 0.8, goods at 0.1 and 0.4: 3 of the 4 bad-good pairs ranked right.
    metrics = ranking_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert metrics == {"auc": 0.75, "gini": 0.5, "ks": 0.5}


def test_the_same_data_and_seed_train_the_same_scorecard_and_another_seed_another_split():
    frame, outcome = hand_made()
    first, again = scorecard_train(frame, outcome, seed=3), scorecard_train(frame, outcome, seed=3)
    assert first.table_sha256 == again.table_sha256
    assert first.metrics == again.metrics
    assert first.data_sha256 == again.data_sha256
    other = scorecard_train(frame, outcome, seed=4)
    assert other.metrics["holdout"] != first.metrics["holdout"]
    assert other.data_sha256 == first.data_sha256
