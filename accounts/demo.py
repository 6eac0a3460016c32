"""Demo staff: two teams (a supervisor and three collectors each), a manager, a compliance officer and an
administrator. Passwords are random unless one is given; they are printed once by seed_demo."""

import secrets

from django.contrib.auth.models import Group

from . import roles
from .models import Team, User

# ((name in Chinese, in English), slug)
DEMO_TEAMS = [(("华东催收一组", "East China team 1"), "east"), (("华北催收二组", "North China team 2"), "north")]
# (given name, family name) of the demo supervisors and collectors.
DEMO_NAMES = {
    "sup_east": ("建国", "周"), "col_east_1": ("伟", "张"), "col_east_2": ("娜", "刘"), "col_east_3": ("强", "陈"),
    "sup_north": ("丽", "赵"), "col_north_1": ("芳", "杨"), "col_north_2": ("磊", "黄"), "col_north_3": ("洋", "吴"),
}  # fmt: skip


def demo_staff_create(password: str | None = None) -> list[tuple[str, str, str]]:
    """Create the demo staff if missing. Returns (username, role, password) for each account created."""
    created = []

    def user(username, role, first_name, last_name, **extra):
        existing = User.objects.filter(username=username).first()
        if existing:
            return existing
        secret = password or secrets.token_urlsafe(12)
        account = User.objects.create_user(
            username=username, password=secret, first_name=first_name, last_name=last_name,
            email=f"{username}@creditops.example", is_staff=True, **extra,
        )  # fmt: skip
        account.groups.add(Group.objects.get(name=role))
        created.append((username, role, secret))
        return account

    user("admin", roles.ADMINISTRATOR, "Ada", "Admin", is_superuser=True, preferred_language="en")
    user("manager", roles.MANAGER, "敏", "王", preferred_language="zh-hans")
    user("compliance", roles.COMPLIANCE, "静", "李")
    for (team_name, team_name_en), slug in DEMO_TEAMS:
        given, family = DEMO_NAMES[f"sup_{slug}"]
        supervisor = user(f"sup_{slug}", roles.SUPERVISOR, given, family)
        team, _ = Team.objects.get_or_create(
            name=team_name, defaults={"name_en": team_name_en, "supervisor": supervisor}
        )
        for number in range(1, 4):
            given, family = DEMO_NAMES[f"col_{slug}_{number}"]
            team.members.add(user(f"col_{slug}_{number}", roles.COLLECTOR, given, family))
    return created
