"""Stored names kept per language: each screen, notice and export shows the reader's; the admin of
third-party apps is named in Chinese too."""

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import translation

from accounts.models import Team
from creditops.core.names import split_bilingual
from dunning.models import DunningPolicy, DunningStage, GuardrailProfile
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("stored", "parts"),
    [
        ("最后通牒 Final demand", ("最后通牒", "Final demand")),
        ("中国 NIFA 2024 催收指引 / China NIFA collection guideline 2024",
         ("中国 NIFA 2024 催收指引", "China NIFA collection guideline 2024")),
        ("US CFPB Regulation F", ("US CFPB Regulation F", "US CFPB Regulation F")),
        ("华北催收二组", ("华北催收二组", "")),
    ],
)  # fmt: skip
def test_a_name_stored_in_both_languages_at_once_is_split(stored, parts):
    assert split_bilingual(stored) == parts


def test_the_default_ladder_and_profiles_have_a_name_in_each_language():
    stage = DunningStage.objects.get(start_dpd=60)
    assert (stage.name, stage.name_en) == ("最后通牒", "Final demand")
    with translation.override("en"):
        assert stage.local_name == "Final demand" and str(DunningPolicy.objects.get()) == "Standard ladder"
    with translation.override("zh-hans"):
        assert stage.local_name == "最后通牒" and str(DunningPolicy.objects.get()) == "标准催收流程"
    for profile in GuardrailProfile.objects.all():
        assert profile.name and profile.name_en
        assert not re.search(r"[A-Za-z]{4,}", profile.name.replace("NIFA", "").replace("CFPB", "").replace("CFR", ""))


def test_a_missing_name_falls_back_to_the_other_language():
    team = Team.objects.create(name="华南组", supervisor=UserFactory())
    with translation.override("en"):
        assert str(team) == "华南组"
    team.name_en = "South team"
    with translation.override("en"):
        assert str(team) == "South team"


def test_a_chinese_admin_index_names_every_app_in_chinese(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True, preferred_language="zh-hans")
    admin.groups.add(Group.objects.get(name="Administrator"))
    client.force_login(admin)
    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for english in ("Background tasks", "Axes", "access attempts", "access logs", "access failures", "Core"):
        assert english not in page
    assert "后台任务" in page and "登录锁定" in page
