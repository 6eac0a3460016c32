"""Resident ID (GB 11643), USCC (GB 32100) and E.164 validation, and Borrower.full_clean's kind/ID rules."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from lending.models import Borrower
from lending.validators import (
    validate_e164,
    validate_passport,
    validate_resident_id,
    validate_time_zone,
    validate_uscc,
)

RESIDENT_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def resident_check(first17: str) -> str:
    """ISO 7064 MOD 11-2, written out here independently of the application's table."""
    remainder = sum(int(digit) * weight for digit, weight in zip(first17, RESIDENT_WEIGHTS, strict=True)) % 11
    return {0: "1", 1: "0", 2: "X"}.get(remainder, str(12 - remainder))


def uscc_check(first17: str) -> str:
    """GB 32100-2015: weights 3^i mod 31, check = 31 − (sum mod 31), 31 becoming 0."""
    total = sum(USCC_ALPHABET.index(char) * pow(3, i, 31) for i, char in enumerate(first17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def code_of(callable_, value):
    with pytest.raises(ValidationError) as caught:
        callable_(value)
    return caught.value.code


# -- resident ID -----------------------------------------------------------------------------------


def test_known_valid_resident_id_with_x_check_character_is_accepted():
    assert resident_check("11010519491231002") == "X"
    validate_resident_id("11010519491231002X")


@pytest.mark.parametrize("birth", ["19800101", "20000229", "19000101"])
def test_resident_ids_with_real_birth_dates_are_accepted(birth):
    first17 = f"440305{birth}123"
    validate_resident_id(first17 + resident_check(first17))


def test_wrong_check_digit_is_rejected():
    assert code_of(validate_resident_id, "110105194912310021") == "checksum"
    assert code_of(validate_resident_id, "11010519491231002Y") == "format"


def test_lowercase_x_is_a_format_error_for_the_bare_validator():
    assert code_of(validate_resident_id, "11010519491231002x") == "format"


def test_30_february_is_not_a_birth_date():
    first17 = "11010519900230123"
    assert code_of(validate_resident_id, first17 + resident_check(first17)) == "birth"


def test_29_february_of_a_non_leap_year_is_not_a_birth_date():
    first17 = "11010519900229123"
    assert code_of(validate_resident_id, first17 + resident_check(first17)) == "birth"


def test_future_birth_date_is_rejected():
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    first17 = f"110105{tomorrow:%Y%m%d}123"
    assert code_of(validate_resident_id, first17 + resident_check(first17)) == "birth"


def test_birth_before_1900_is_rejected():
    first17 = "11010518991231123"
    assert code_of(validate_resident_id, first17 + resident_check(first17)) == "birth"


@pytest.mark.parametrize("province", ["00", "10", "99", "72", "80"])
def test_unknown_province_code_is_rejected(province):
    first17 = f"{province}010519491231002"
    assert code_of(validate_resident_id, first17 + resident_check(first17)) == "region"


@pytest.mark.parametrize(
    "value", ["", "11010519491231002", "11010519491231002X1", "110105194912310", "1101051949123100AX"]
)
def test_wrong_length_or_characters_is_a_format_error(value):
    assert code_of(validate_resident_id, value) == "format"


# -- USCC ------------------------------------------------------------------------------------------


def test_published_uscc_is_accepted():
    assert uscc_check("91350100M000100Y4") == "3"
    validate_uscc("91350100M000100Y43")


def test_built_uscc_is_accepted_and_a_wrong_check_char_rejected():
    first17 = "91440300MA5DABCDE"
    check = uscc_check(first17)
    validate_uscc(first17 + check)
    wrong = USCC_ALPHABET[(USCC_ALPHABET.index(check) + 1) % 31]
    assert code_of(validate_uscc, first17 + wrong) == "checksum"


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_uscc_with_a_forbidden_letter_is_a_format_error(letter):
    first17 = "91440300MA5DABCDE"
    value = first17[:10] + letter + first17[11:] + uscc_check(first17)
    assert code_of(validate_uscc, value) == "format"


@pytest.mark.parametrize(
    ("first17", "code"),
    [
        ("00000000000000000", "authority"),  # 000000000000000000: the check character is right, nothing else
        ("B1440300MA5DABCDE", "authority"),
        ("94440300MA5DABCDE", "category"),  # market regulation registers categories 1-3 only
        ("Y2440300MA5DABCDE", "category"),
        ("91000000MA5DABCDE", "region"),
        ("919903A0MA5DABCDE", "region"),
        ("91A40300MA5DABCDE", "region"),
    ],
)
def test_uscc_parts_are_checked_not_only_the_check_character(first17, code):
    assert code_of(validate_uscc, first17 + uscc_check(first17)) == code


@pytest.mark.parametrize(
    "first17", ["11100000000013127", "52110000500021676", "93310115MA1K3ABCD", "Y1440300MA5DABCDE", "92350100M000100Y4"]
)
def test_uscc_of_every_authority_and_the_central_level_is_accepted(first17):
    validate_uscc(first17 + uscc_check(first17))


@pytest.mark.parametrize("value", ["", "91350100M000100Y4", "91350100M000100Y433", "91350100m000100Y43"])
def test_uscc_of_wrong_length_or_lowercase_is_a_format_error(value):
    assert code_of(validate_uscc, value) == "format"


# -- phone and passport ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["+8613800138000", "+14155552671", "+1234567", "+123456789012345"])
def test_e164_numbers_are_accepted(value):
    validate_e164(value)


@pytest.mark.parametrize(
    "value", ["13800138000", "+08613800138000", "+123456", "+1234567890123456", "+86 138 0013 8000", "", None]
)
def test_non_e164_numbers_are_rejected(value):
    assert code_of(validate_e164, value) == "e164"


def test_passport_format():
    validate_passport("E12345678")
    assert code_of(validate_passport, "e1234") == "format"
    assert code_of(validate_passport, "E12") == "format"


# -- Borrower.full_clean ---------------------------------------------------------------------------


def individual(**overrides):
    fields = {
        "kind": Borrower.Kind.INDIVIDUAL,
        "name": "张三",
        "id_type": Borrower.IdType.RESIDENT_ID,
        "id_number": "11010519491231002X",
        "phone": "+8613800138000",
    }
    fields.update(overrides)
    return Borrower(**fields)


def enterprise(**overrides):
    fields = {
        "kind": Borrower.Kind.ENTERPRISE,
        "name": "福建测试有限公司",
        "legal_representative": "王五",
        "id_type": Borrower.IdType.USCC,
        "id_number": "91350100M000100Y43",
        "phone": "+8659187654321",
    }
    fields.update(overrides)
    return Borrower(**fields)


def errors_of(borrower):
    with pytest.raises(ValidationError) as caught:
        borrower.full_clean()
    return caught.value.message_dict


@pytest.mark.django_db
def test_valid_individual_and_enterprise_pass_full_clean():
    individual().full_clean()
    enterprise().full_clean()
    individual(id_type=Borrower.IdType.PASSPORT, id_number="E12345678").full_clean()


@pytest.mark.django_db
def test_full_clean_normalises_the_id_number():
    borrower = individual(id_number=" 11010519491231002x ")
    borrower.full_clean()
    assert borrower.id_number == "11010519491231002X"


@pytest.mark.django_db
def test_enterprise_needs_a_legal_representative():
    assert set(errors_of(enterprise(legal_representative=""))) == {"legal_representative"}


@pytest.mark.django_db
def test_enterprise_must_use_a_uscc():
    assert set(errors_of(enterprise(id_type=Borrower.IdType.RESIDENT_ID, id_number="11010519491231002X"))) == {
        "id_type"
    }


@pytest.mark.django_db
def test_individual_with_a_uscc_is_refused():
    assert set(errors_of(individual(id_type=Borrower.IdType.USCC, id_number="91350100M000100Y43"))) == {"id_type"}


@pytest.mark.django_db
def test_invalid_id_number_is_reported_on_id_number():
    errors = errors_of(individual(id_number="110105194912310021"))
    assert set(errors) == {"id_number"}
    assert errors["id_number"] == ["The resident ID number's check digit is wrong."]
    assert set(errors_of(enterprise(id_number="91350100M000100Y44"))) == {"id_number"}


@pytest.mark.django_db
def test_phone_must_be_e164():
    assert set(errors_of(individual(phone="13800138000"))) == {"phone"}


@pytest.mark.django_db
def test_same_id_number_twice_is_refused():
    individual().save()
    errors = errors_of(individual(name="李四", phone="+8613900139000"))
    assert "__all__" in errors


def test_time_zone_must_be_a_real_iana_zone():
    validate_time_zone("Asia/Shanghai")
    validate_time_zone("America/New_York")
    with pytest.raises(ValidationError) as raised:
        validate_time_zone("Asia/Beijing")  # not an IANA zone: China uses Asia/Shanghai
    assert raised.value.code == "time_zone"
