"""Who works a case: the first matching assignment rule picks the team, then the team's collector with the
fewest open cases takes it. Used by the nightly run for the cases it opens, and by supervisors."""

import heapq
from collections import defaultdict

from django.db.models import Count

from accounts.models import User
from accounts.roles import COLLECTOR

from ..models import AssignmentRule, CollectionCase


class TeamRouter:
    """The active rules, loaded once, matched against a case's bucket, product, language and province."""

    def __init__(self):
        self.rules = list(AssignmentRule.objects.filter(is_active=True).prefetch_related("products"))
        self.rule_products = {rule.pk: {product.pk for product in rule.products.all()} for rule in self.rules}

    def team_id_for(self, *, bucket: str, product_id: int, language: str, province: str) -> int | None:
        for rule in self.rules:
            if rule.buckets and bucket not in rule.buckets:
                continue
            if self.rule_products[rule.pk] and product_id not in self.rule_products[rule.pk]:
                continue
            if rule.language and rule.language != language:
                continue
            if rule.provinces and province not in rule.provinces:
                continue
            return rule.team_id
        return None


def team_collectors(team_id: int) -> list[int]:
    """Active collectors of a team (members in the Collector role)."""
    return list(
        User.objects.filter(teams__id=team_id, is_active=True, groups__name=COLLECTOR)
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )


class LeastLoaded:
    """Hands out collectors of each team, always the one with the fewest open cases so far (ties: lowest
    id), counting the cases it hands out."""

    def __init__(self):
        self._heaps: dict[int, list[tuple[int, int]]] = {}

    def _heap(self, team_id):
        if team_id not in self._heaps:
            members = team_collectors(team_id)
            loads = dict(
                CollectionCase.objects.filter(is_open=True, assigned_to__in=members)
                .values_list("assigned_to")
                .annotate(open_cases=Count("pk"))
            )
            self._heaps[team_id] = [(loads.get(member, 0), member) for member in members]
            heapq.heapify(self._heaps[team_id])
        return self._heaps[team_id]

    def take(self, team_id: int) -> int | None:
        heap = self._heap(team_id)
        if not heap:
            return None
        load, member = heapq.heappop(heap)
        heapq.heappush(heap, (load + 1, member))
        return member


def assignments_plan(cases) -> dict[tuple[int | None, int | None], list[int]]:
    """Route each case to (team, collector). `cases` are rows with pk, bucket, product_id, language,
    province and team_id (the current team: a case its rules still send there keeps its collector).
    Returns {(team_id, collector_id): [case ids]} for the cases that move."""
    router, collectors = TeamRouter(), LeastLoaded()
    plan = defaultdict(list)
    for row in cases:
        team_id = router.team_id_for(
            bucket=row["bucket"], product_id=row["product_id"], language=row["language"], province=row["province"]
        )
        if team_id is None or team_id == row["team_id"]:
            continue
        plan[(team_id, collectors.take(team_id))].append(row["pk"])
    return plan
