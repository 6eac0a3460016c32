"""SMS through a pluggable gateway, chosen like Django's e-mail backends: settings.SMS_BACKEND names a
class (console, file and locmem backends ship here; a real gateway is a subclass of BaseSmsBackend in the
operator's own package). The gateway is outside CreditOps, so this is the one seam tests replace."""

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str


def get_backend(path: str | None = None, **kwargs):
    return import_string(path or settings.SMS_BACKEND)(**kwargs)


def send_sms(*, phone: str, text: str) -> int:
    """Send one message; returns how many the gateway accepted (1 or 0)."""
    return get_backend().send_messages([SmsMessage(phone=phone, text=text)])


def sms_text(template: str, *, language: str, context: dict) -> str:
    """The text of an SMS from templates/sms/<language>/<template>.txt, on one line."""
    text = render_to_string(f"sms/{language}/{template}.txt", context)
    return " ".join(text.split())
