import logging

from .base import BaseSmsBackend

logger = logging.getLogger("notices.sms")


class SmsBackend(BaseSmsBackend):
    """Development: log each message instead of sending it."""

    def send_messages(self, messages) -> int:
        for message in messages:
            logger.info("SMS to %s: %s", message.phone, message.text)
        return len(messages)
