"""What the collections services announce to other apps (the notices app confirms plans by letter)."""

from django.dispatch import Signal

# Sent inside the approving transaction, with `plan` and `actor`, once a payment plan is approved.
plan_started = Signal()
