"""Sending SMS through the gateway named by settings.SMS_BACKEND. The gateway is outside CreditOps, so this
is the one seam tests replace: "console" prints, "locmem" keeps messages in `outbox`."""

import logging

from django.conf import settings

logger = logging.getLogger(__name__)
outbox: list[dict] = []


def send_sms(*, phone: str, text: str) -> None:
    backend = getattr(settings, "SMS_BACKEND", "console")
    if backend == "locmem":
        outbox.append({"phone": phone, "text": text})
    elif backend == "console":
        logger.info("SMS to %s: %s", phone, text)
    else:
        raise NotImplementedError(f"SMS backend {backend!r} is not configured")
