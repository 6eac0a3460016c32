import pytest
from django.conf import settings

from tests.factories import UserFactory


@pytest.fixture
def english_admin(db):
    return UserFactory(username="ada", is_superuser=True, preferred_language="en")


@pytest.fixture
def chinese_admin(db):
    return UserFactory(username="wang", is_superuser=True, preferred_language="zh-hans")


def test_signed_in_user_sees_their_preferred_language_whatever_the_browser_says(client, english_admin, chinese_admin):
    client.force_login(english_admin)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page["Content-Language"] == "en"
    assert "Loans" in page.content.decode()

    client.force_login(chinese_admin)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")
    assert page["Content-Language"] == "zh-hans"
    assert "贷款" in page.content.decode()


def test_the_language_switch_overrides_the_preference(client, english_admin):
    client.force_login(english_admin)
    switched = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/admin/"})
    assert switched.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    page = client.get("/admin/")
    assert page["Content-Language"] == "zh-hans"
    assert "贷款" in page.content.decode()


def test_anonymous_visitors_get_the_browser_language(client, db):
    assert client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="zh-hans")["Content-Language"] == "zh-hans"
    assert client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "en"
