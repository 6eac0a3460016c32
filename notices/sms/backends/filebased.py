import datetime
import uuid
from pathlib import Path

from django.conf import settings

from .base import BaseSmsBackend


class SmsBackend(BaseSmsBackend):
    """Write each message to its own file under settings.SMS_FILE_PATH (a staging gateway, or an audit
    of what would have been sent)."""

    def __init__(self, *args, file_path=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.directory = Path(file_path or settings.SMS_FILE_PATH)

    def send_messages(self, messages) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        for message in messages:
            stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
            path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.txt"
            path.write_text(f"To: {message.phone}\n\n{message.text}\n", encoding="utf-8")
        return len(messages)
