"""The batch path: issue the notices the dunning ladder asked for (pending stage actions with a notice
kind), in chunks, on several processes. Rendering is CPU-bound and holds no lock (see issue.py), so two
processes on two cores issue about twice as many notices per second as one."""

import logging
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

from django.conf import settings
from django.db import connections, transaction

from creditops.core.errors import DomainError
from dunning.models import DunningAction
from dunning.services.guardrails import ContactBlockedError

from ..models import Notice, NoticeDelivery
from .issue import emails_queue, notice_finish, notice_issue

logger = logging.getLogger(__name__)
# Small enough that the last chunks of a batch leave no core idle for long, large enough that the
# per-chunk query is noise.
CHUNK_SIZE = 10


def pending_notice_action_ids() -> list[int]:
    """Stage actions waiting for their notice, oldest first (an approved action counts once approved)."""
    pending = DunningAction.objects.filter(
        status=DunningAction.Status.PENDING, case__isnull=False, case__is_open=True
    ).exclude(notice_kind="")
    return list(pending.order_by("pk").values_list("pk", flat=True))


def chunks(ids: list[int], size: int = CHUNK_SIZE) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def notices_issue_for_actions(action_ids: list[int]) -> Counter:
    """Issue the notice of each action (one process), then queue one task for the chunk's e-mails.
    Returns counts: issued, refused, skipped, failed."""
    counts = Counter()
    actions = DunningAction.objects.filter(pk__in=action_ids).select_related(
        "case__loan__product", "case__borrower", "stage"
    )
    for action in actions.order_by("pk"):
        if action.status != DunningAction.Status.PENDING or action.case is None:
            counts["skipped"] += 1
            continue
        try:
            notice_issue(case=action.case, kind=action.notice_kind, actor=None, action=action, queue_email=False)
        except ContactBlockedError:
            counts["refused"] += 1
        except DomainError as error:  # the case closed meanwhile, say: nothing to issue, nothing lost
            logger.warning("notice for action %s not issued: %s", action.pk, error)
            counts["failed"] += 1
        except Exception:  # one notice that cannot be rendered must not stop every other one
            logger.exception("notice for action %s failed", action.pk)
            counts["failed"] += 1
        else:
            counts["issued"] += 1
    _chunk_emails_queue(action_ids)
    return counts


def _chunk_emails_queue(action_ids: list[int]) -> None:
    """Queue the chunk's e-mails with one task rather than one per notice (the task queue costs a few ms
    a message). Were this process to die first, the 5-minute sweep sends them."""
    emails = NoticeDelivery.objects.filter(
        notice__action_id__in=action_ids, channel=NoticeDelivery.Channel.EMAIL, status=NoticeDelivery.Status.QUEUED
    )
    delivery_ids = list(emails.order_by("pk").values_list("pk", flat=True))
    if delivery_ids:
        transaction.on_commit(lambda: emails_queue(delivery_ids))  # at once, unless inside a transaction


def reserved_notices_finish() -> int:
    """Finish notices a crashed worker left reserved (same reference, same stored figures)."""
    finished = 0
    for notice in Notice.objects.filter(status=Notice.Status.RESERVED).order_by("pk"):
        try:
            notice_finish(notice)
        except Exception:  # left reserved, tried again next time; the others go on
            logger.exception("reserved notice %s could not be finished", notice.reference)
        else:
            finished += 1
    return finished


def pending_notices_issue(*, workers: int | None = None, chunk_size: int = CHUNK_SIZE) -> Counter:
    """Issue every pending notice, on `workers` processes (settings.NOTICES["RENDER_WORKERS"] by default).
    Returns the summed counts, with "resumed" for notices finished after a crash."""
    workers = workers or settings.NOTICES["RENDER_WORKERS"]
    counts = Counter(resumed=reserved_notices_finish())
    parts = chunks(pending_notice_action_ids(), chunk_size)
    if workers <= 1 or len(parts) <= 1:
        for part in parts:
            counts.update(notices_issue_for_actions(part))
        return counts
    # Each child opens its own database connection: close ours first, so none is shared across the fork.
    connections.close_all()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for part_counts in pool.map(notices_issue_for_actions, parts):
            counts.update(part_counts)
    return counts
