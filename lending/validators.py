"""Real validation of Chinese identity numbers and phone numbers.

- PRC resident identity card number (GB 11643-1999): 17 digits + check character from ISO 7064 MOD 11-2,
  with a valid birth date in positions 7-14.
- Unified Social Credit Code (GB 32100-2015): 18 characters from a 31-symbol alphabet: the registration
  authority (1st) and the category of organisation it registers (2nd), the administrative division of
  registration (3rd-8th: a province's, or 100000 for the central level), the organisation code (9th-17th)
  and a check character computed MOD 31.
- Phone numbers in E.164 form (+ country code, up to 15 digits).
"""

import datetime
import re
import zoneinfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

RESIDENT_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
RESIDENT_ID_CHECK = "10X98765432"  # indexed by (weighted sum mod 11)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
PROVINCE_CODES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
    "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
}  # fmt: skip


def resident_id_check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK[total % 11]


def validate_resident_id(value: str) -> None:
    if not re.fullmatch(r"\d{17}[\dX]", value or ""):
        raise ValidationError(_("A resident ID number has 17 digits followed by a digit or X."), code="format")
    if value[:2] not in PROVINCE_CODES:
        raise ValidationError(_("The first two digits are not a province code."), code="region")
    try:
        birth = datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as error:
        message = _("The birth date in the resident ID number is not a real date.")
        raise ValidationError(message, code="birth") from error
    if not datetime.date(1900, 1, 1) <= birth <= datetime.date.today():
        raise ValidationError(_("The birth date in the resident ID number is out of range."), code="birth")
    if resident_id_check_char(value[:17]) != value[17]:
        raise ValidationError(_("The resident ID number's check digit is wrong."), code="checksum")


# Registration authority (1st character) → the categories of organisation it registers (2nd), GB 32100-2015
# appendix A: 1 institutional staffing, 2 foreign affairs, 3 judicial administration, 4 culture, 5 civil
# affairs, 6 tourism, 7 religion, 8 trade unions, 9 market regulation (enterprises, individual businesses,
# farmers' cooperatives), A the Central Military Commission's staffing office, N agriculture, Y others.
USCC_CATEGORIES = {
    "1": "1239", "2": "19", "3": "123459", "4": "19", "5": "1239", "6": "129", "7": "129", "8": "19",
    "9": "123", "A": "19", "N": "1239", "Y": "1",
}  # fmt: skip
USCC_CENTRAL_DIVISION = "100000"


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(char) * weight for char, weight in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> None:
    if len(value or "") != 18 or any(char not in USCC_ALPHABET for char in value):
        raise ValidationError(
            _("A unified social credit code has 18 characters (digits and capitals except I, O, S, V, Z)."),
            code="format",
        )
    categories = USCC_CATEGORIES.get(value[0])
    if categories is None:
        raise ValidationError(
            _("The first character of a unified social credit code names the registration authority (1-9, A, N or "
              "Y)."), code="authority",
        )  # fmt: skip
    if value[1] not in categories:
        raise ValidationError(
            _("The second character is not a category of organisation that authority %(authority)s registers.")
            % {"authority": value[0]},
            code="category",
        )
    division = value[2:8]
    if not division.isdigit() or (division[:2] not in PROVINCE_CODES and division != USCC_CENTRAL_DIVISION):
        raise ValidationError(
            _("Characters 3 to 8 of a unified social credit code are the administrative division code of a "
              "province's region (or 100000)."), code="region",
        )  # fmt: skip
    if uscc_check_char(value[:17]) != value[17]:
        raise ValidationError(_("The unified social credit code's check character is wrong."), code="checksum")


def validate_passport(value: str) -> None:
    if not re.fullmatch(r"[A-Z0-9]{5,20}", value or ""):
        raise ValidationError(_("A passport number has 5 to 20 capital letters or digits."), code="format")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Enter an IANA time zone such as Asia/Shanghai."), code="time_zone")


def validate_e164(value: str) -> None:
    if not E164.match(value or ""):
        raise ValidationError(_("Enter the phone number in international form, e.g. +8613800138000."), code="e164")
