class BaseSmsBackend:
    """A gateway: subclasses send each message and return how many were accepted."""

    def __init__(self, fail_silently: bool = False, **kwargs):
        self.fail_silently = fail_silently

    def send_messages(self, messages) -> int:
        raise NotImplementedError("An SMS backend must implement send_messages()")
