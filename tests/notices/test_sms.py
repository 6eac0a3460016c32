"""SMS through a pluggable gateway (notices/sms): the backend named by settings.SMS_BACKEND (console, file,
locmem or an operator's own class) and the reminder texts rendered per language on one line."""

import datetime
import logging
from zoneinfo import ZoneInfo

import pytest
from django.template import TemplateDoesNotExist

from dunning.services.dispatch import reminders_dispatch
from notices.sms import SmsMessage, get_backend, send_sms, sms_text
from notices.sms.backends.base import BaseSmsBackend
from notices.sms.backends.filebased import SmsBackend as FileSmsBackend
from tests.factories import BorrowerFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE = "+8613800138000"
OVERDUE = {"name": "Li Lei", "loan": "LN-2026-000042", "days": 3, "amount": "¥1,066.19", "phone": "400-000-0000"}
EN_OVERDUE = (
    "Dear Li Lei, loan LN-2026-000042 is 3 days overdue; ¥1,066.19 is due now. "
    "Please pay as soon as possible or call us on 400-000-0000 to agree a date."
)
ZH_OVERDUE = (
    "尊敬的Li Lei：您的贷款 LN-2026-000042 已逾期 3 天，当前应还 ¥1,066.19。"
    "请尽快还款，或致电 400-000-0000 约定还款日期。"
)


class RecordingGateway(BaseSmsBackend):
    """An operator's own gateway, configured by its dotted path: keeps every batch it is handed."""

    batches: list = []

    def __init__(self, fail_silently=False, **kwargs):
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.options = kwargs

    def send_messages(self, messages) -> int:
        RecordingGateway.batches.append(list(messages))
        return len(messages)


@pytest.fixture
def gateway(settings):
    RecordingGateway.batches = []
    settings.SMS_BACKEND = f"{__name__}.RecordingGateway"
    return RecordingGateway


# ---------------------------------------------------------------------------------------------------------
# Backends


def test_the_file_backend_writes_one_file_per_message_with_the_phone_and_text(settings, tmp_path):
    settings.SMS_BACKEND = "notices.sms.backends.filebased.SmsBackend"
    settings.SMS_FILE_PATH = tmp_path / "sms"

    assert send_sms(phone=PHONE, text="您的贷款已逾期 3 天。") == 1

    [written] = list((tmp_path / "sms").iterdir())
    assert written.suffix == ".txt"
    assert written.read_text(encoding="utf-8") == f"To: {PHONE}\n\n您的贷款已逾期 3 天。\n"


def test_the_file_backend_keeps_each_message_in_its_own_file(settings, tmp_path):
    settings.SMS_BACKEND = "notices.sms.backends.filebased.SmsBackend"
    settings.SMS_FILE_PATH = tmp_path / "sms"

    for number in range(3):
        assert send_sms(phone=PHONE, text=f"message {number}") == 1

    texts = sorted(path.read_text(encoding="utf-8") for path in (tmp_path / "sms").iterdir())
    assert texts == [f"To: {PHONE}\n\nmessage {number}\n" for number in range(3)]


def test_a_file_backend_can_be_given_its_folder(tmp_path):
    backend = get_backend("notices.sms.backends.filebased.SmsBackend", file_path=tmp_path / "elsewhere")

    assert isinstance(backend, FileSmsBackend)
    assert backend.send_messages([SmsMessage(PHONE, "one"), SmsMessage("+8613900139000", "two")]) == 2
    assert len(list((tmp_path / "elsewhere").iterdir())) == 2


def test_the_console_backend_logs_each_message(settings, caplog):
    settings.SMS_BACKEND = "notices.sms.backends.console.SmsBackend"
    caplog.set_level(logging.INFO, logger="notices.sms")

    assert send_sms(phone=PHONE, text="Reply STOP to stop receiving these messages.") == 1

    assert [(record.name, record.levelno, record.getMessage()) for record in caplog.records] == [
        ("notices.sms", logging.INFO, f"SMS to {PHONE}: Reply STOP to stop receiving these messages.")
    ]


def test_the_locmem_backend_keeps_the_messages_in_its_outbox(settings, sms_outbox):
    settings.SMS_BACKEND = "notices.sms.backends.locmem.SmsBackend"

    assert send_sms(phone=PHONE, text="first") == 1
    assert send_sms(phone="+8613900139000", text="second") == 1

    assert sms_outbox == [SmsMessage(phone=PHONE, text="first"), SmsMessage(phone="+8613900139000", text="second")]


@pytest.mark.parametrize(
    "path",
    [
        "notices.sms.backends.nowhere.SmsBackend",  # no such module
        "notices.sms.backends.console.NoSuchBackend",  # no such class
        "not-a-dotted-path",
    ],
)
def test_an_unknown_backend_path_is_an_import_error(settings, sms_outbox, path):
    settings.SMS_BACKEND = path

    with pytest.raises(ImportError):
        send_sms(phone=PHONE, text="never sent")

    assert sms_outbox == []


def test_an_operators_own_backend_is_chosen_by_its_dotted_path(gateway):
    assert send_sms(phone=PHONE, text="hello") == 1

    assert gateway.batches == [[SmsMessage(phone=PHONE, text="hello")]]


def test_the_base_backend_must_be_subclassed():
    with pytest.raises(NotImplementedError):
        BaseSmsBackend().send_messages([SmsMessage(PHONE, "x")])


def test_an_overdue_reminder_reaches_the_configured_gateway_in_the_borrowers_language(
    overdue_case, gateway, sms_outbox, django_capture_on_commit_callbacks
):
    borrower = BorrowerFactory(preferred_language="en", name="Li Lei")
    case = overdue_case(days_past_due=1, borrower=borrower)

    with django_capture_on_commit_callbacks(execute=True):
        counts = reminders_dispatch(now=datetime.datetime.combine(case.opened_on, datetime.time(10), SHANGHAI))

    assert counts["sent"] == 1
    [[message]] = gateway.batches
    assert message.phone == borrower.phone
    assert message.text.startswith(f"Dear Li Lei, loan {case.loan.reference} is 1 day overdue; ")
    assert sms_outbox == []  # the test settings' locmem gateway was not used


# ---------------------------------------------------------------------------------------------------------
# Texts


@pytest.mark.parametrize(
    ("language", "opt_out", "expected"),
    [
        ("en", False, EN_OVERDUE),
        ("en", True, EN_OVERDUE + " Reply STOP to stop receiving these messages."),
        ("zh-hans", False, ZH_OVERDUE),
        ("zh-hans", True, ZH_OVERDUE + " 回复 TD 退订。"),
    ],
)
def test_the_overdue_reminder_text_is_one_line_in_the_language_with_an_opt_out_only_when_asked(
    language, opt_out, expected
):
    text = sms_text("reminder_overdue", language=language, context={**OVERDUE, "opt_out": opt_out})

    assert text == expected
    assert "\n" not in text


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Dear Li Lei, an installment of loan LN-2026-000042 falls due on 2026-02-15. Please pay on time."),
        ("zh-hans", "尊敬的Li Lei：您的贷款 LN-2026-000042 有一期款项将于 2026-02-15 到期，请按时还款。"),
    ],
)
def test_the_pre_due_reminder_text_names_the_due_date(language, expected):
    context = {"name": "Li Lei", "loan": "LN-2026-000042", "due_date": datetime.date(2026, 2, 15), "opt_out": False}

    assert sms_text("reminder_predue", language=language, context=context) == expected


def test_one_day_overdue_is_singular():
    text = sms_text("reminder_overdue", language="en", context={**OVERDUE, "days": 1, "opt_out": False})

    assert "is 1 day overdue;" in text


def test_an_sms_prints_the_borrowers_name_as_written():
    """Bug: sms_text renders the .txt template with Django's HTML autoescaping on, so an SMS (and the e-mail
    reminder that reuses it) reads "Dear O&#x27;Brien &amp; Sons, …"."""
    context = {**OVERDUE, "name": "O'Brien & Sons", "opt_out": False}

    assert sms_text("reminder_overdue", language="en", context=context).startswith("Dear O'Brien & Sons, loan ")


def test_a_missing_language_template_is_an_error():
    with pytest.raises(TemplateDoesNotExist):
        sms_text("reminder_overdue", language="fr", context={**OVERDUE, "opt_out": False})
