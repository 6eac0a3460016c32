"""Demo routing for collections: early buckets to the East team, everything else to the North team."""

from accounts.demo import DEMO_TEAMS
from accounts.models import Team
from lending.models import Loan

from .models import AssignmentRule


def demo_assignment_rules_create() -> int:
    """Create the demo assignment rules if there are none. Returns how many were created."""
    if AssignmentRule.objects.exists():
        return 0
    east, north = (Team.objects.get(name=name) for name, _slug in DEMO_TEAMS)
    AssignmentRule.objects.create(position=10, team=east, buckets=[Loan.Bucket.DPD_1_30, Loan.Bucket.DPD_31_60])
    AssignmentRule.objects.create(position=20, team=north)
    return 2
