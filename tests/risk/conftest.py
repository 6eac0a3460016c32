import pytest
from django.contrib.auth.models import Group

from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def user_in(db):
    def make(role: str, username: str):
        user = UserFactory(username=username)
        user.groups.add(Group.objects.get(name=role))
        return user

    return make
