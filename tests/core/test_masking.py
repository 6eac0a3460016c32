import pytest

from creditops.core.masking import mask_id_number, mask_phone


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11010519491231002X", "110***********002X"),
        ("91110105000000001A", "911***********001A"),
        ("E12345678", "E12**5678"),
        ("ABCDEFGH", "ABC*EFGH"),
        ("1234567", "*******"),  # too short to show anything
        ("123", "***"),
        ("", ""),
    ],
)
def test_mask_id_number(value, expected):
    masked = mask_id_number(value)
    assert masked == expected
    assert len(masked) == len(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+8613800138000", "+86*******8000"),
        ("+12025550123", "+12*****0123"),
        ("13800138000", "*******8000"),
        ("5678", "5678"),
        ("", ""),
    ],
)
def test_mask_phone(value, expected):
    masked = mask_phone(value)
    assert masked == expected
    assert len(masked) == len(value)
