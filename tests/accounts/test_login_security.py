"""Signing in and staying signed in safely: the lockout after repeated wrong passwords (per user name and
address), idle sessions, security headers on every response, CSRF, password rules and the language switch."""

import datetime

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from creditops.settings.base import client_address_settings
from dunning.models import CaseEvent
from tests.dunning import conftest as collections
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# The collections fixtures (a team with supervisor 'sup', collectors 'col1' and 'col2', overdue cases).
supervisor = collections.supervisor
collector = collections.collector
other_collector = collections.other_collector
team = collections.team
cn_product = collections.cn_product
overdue_case = collections.overdue_case

PASSWORD = "correct-horse-battery"  # every UserFactory user's
LOGIN_URL, WORKLIST_URL = reverse("accounts:login"), reverse("cases:worklist")


def sign_in(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN_URL, {"username": username, "password": password}, **extra)


def landing(response) -> tuple[int, str]:
    """Where a successful sign-in ends up after every redirect (status and path)."""
    assert response.redirect_chain, "the sign-in did not redirect"
    return response.status_code, response.redirect_chain[-1][0]


def test_a_collector_signs_in_and_lands_on_the_worklist(client, collector):
    response = sign_in(client, "col1", follow=True)
    assert landing(response) == (200, WORKLIST_URL)
    assert response.wsgi_request.user == collector


@pytest.mark.parametrize(
    ("role", "landing_url"),
    [(roles.MANAGER, "/dashboard/"), (roles.COMPLIANCE, WORKLIST_URL), (roles.SUPERVISOR, WORKLIST_URL)],
)
def test_each_role_lands_where_its_day_starts(client, role, landing_url):
    user = UserFactory(username="someone")
    user.groups.add(Group.objects.get(name=role))
    assert landing(sign_in(client, "someone", follow=True)) == (200, landing_url)


def test_a_wrong_password_keeps_the_form_and_says_how_many_tries_there_are(client, collector):
    response = sign_in(client, "col1", "wrong-password")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert f"After {settings.AXES_FAILURE_LIMIT} failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_after_the_failure_limit_even_the_right_password_is_refused_with_the_lockout_page(client, collector):
    assert settings.AXES_FAILURE_LIMIT == 5
    answers = [sign_in(client, "col1", f"wrong-{number}").status_code for number in range(5)]
    assert answers == [200, 200, 200, 200, 429]
    response = sign_in(client, "col1")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-ins" in page
    assert "locked on this computer for 15 minutes" in page
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert "_auth_user_id" not in client.session
    assert client.get(WORKLIST_URL)["Location"] == f"{LOGIN_URL}?next={WORKLIST_URL}"


def test_the_admins_sign_in_shares_the_lockout(client, collector):
    for number in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "col1", f"wrong-{number}")
    response = client.post(reverse("admin:login"), {"username": "col1", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_holds_one_user_name_from_one_address(client, collector, other_collector):
    for number in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "col1", f"wrong-{number}")
    assert sign_in(client, "col1").status_code == 429
    # A colleague at the same computer still signs in…
    assert landing(sign_in(Client(), "col2", follow=True)) == (200, WORKLIST_URL)
    # …and so does the same user from another address.
    assert landing(sign_in(Client(), "col1", REMOTE_ADDR="10.20.30.40", follow=True)) == (200, WORKLIST_URL)


LOAD_BALANCER = "10.0.0.1"


@pytest.mark.parametrize(
    ("locked_client", "other_client"), [("172.16.5.20", "172.16.9.31"), ("114.114.114.114", "223.5.5.5")]
)
def test_behind_a_load_balancer_each_client_address_is_locked_on_its_own(
    settings, collector, locked_client, other_client
):
    """Production's setting (one proxy): the lockout keys on the address the balancer appended to
    X-Forwarded-For, not on the balancer's own address, and entries a client writes into the header
    itself do not get it out of its lock."""
    for name, value in client_address_settings(1).items():
        setattr(settings, name, value)
    behind = {"REMOTE_ADDR": LOAD_BALANCER}
    locked = {**behind, "HTTP_X_FORWARDED_FOR": locked_client}
    for number in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "col1", f"wrong-{number}", **locked)
    assert sign_in(Client(), "col1", **locked).status_code == 429
    spoofed = {**behind, "HTTP_X_FORWARDED_FOR": f"{other_client}, {locked_client}"}
    assert sign_in(Client(), "col1", **spoofed).status_code == 429
    elsewhere = {**behind, "HTTP_X_FORWARDED_FOR": other_client}
    assert landing(sign_in(Client(), "col1", follow=True, **elsewhere)) == (200, WORKLIST_URL)


def test_without_a_proxy_a_forwarded_header_is_ignored(collector):
    """The default (no proxy in front): X-Forwarded-For is whatever the client wrote, so it cannot move a
    client out of its lock."""
    for number in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "col1", f"wrong-{number}", HTTP_X_FORWARDED_FOR=f"172.16.0.{number}")
    assert sign_in(Client(), "col1", HTTP_X_FORWARDED_FOR="172.16.1.1").status_code == 429


def test_signing_in_never_redirects_to_another_site(client, collector):
    response = client.post(
        LOGIN_URL, {"username": "col1", "password": PASSWORD, "next": "https://phish.example/cases/"}, follow=True
    )
    assert landing(response) == (200, WORKLIST_URL)


def test_signing_out_ends_the_session(client, collector):
    client.force_login(collector)
    response = client.post(reverse("accounts:logout"))
    assert (response.status_code, response["Location"]) == (302, LOGIN_URL)
    assert client.get(WORKLIST_URL)["Location"] == f"{LOGIN_URL}?next={WORKLIST_URL}"


def test_sessions_end_after_30_idle_minutes_and_with_the_browser():
    assert settings.SESSION_COOKIE_AGE == 1800
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert settings.SESSION_COOKIE_HTTPONLY is True


def test_every_request_pushes_the_idle_expiry_on(client, collector):
    client.force_login(collector)
    session = Session.objects.filter(session_key=client.session.session_key)
    session.update(expire_date=timezone.now() + datetime.timedelta(minutes=1))
    response = client.get(WORKLIST_URL)
    assert response.status_code == 200
    assert session.get().expire_date >= timezone.now() + datetime.timedelta(seconds=1800 - 60)
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == ""  # a browser-session cookie


def test_an_expired_session_sends_the_user_to_sign_in(client, collector):
    client.force_login(collector)
    assert client.get(WORKLIST_URL).status_code == 200
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    response = client.get(WORKLIST_URL)
    assert (response.status_code, response["Location"]) == (302, f"{LOGIN_URL}?next={WORKLIST_URL}")


@pytest.fixture
def case(overdue_case):
    return overdue_case(10)


@pytest.mark.parametrize(
    ("who", "page", "status"),
    [
        (None, "login", 200),
        (None, "worklist", 302),
        (None, "healthz", 200),
        ("collector", "worklist", 200),
        ("collector", "case", 200),
        ("collector", "team", 403),
        ("collector", "missing case", 404),
        ("collector", "admin", 200),
        ("supervisor", "team", 200),
        ("supervisor", "approvals", 200),
        ("compliance", "audit", 200),
        ("compliance", "audit csv", 200),
    ],
)
def test_every_portal_response_carries_the_security_headers(client, request, case, who, page, status):
    if who == "compliance":
        client.force_login(collections.staff("auditor", roles.COMPLIANCE))
    elif who is not None:
        client.force_login(request.getfixturevalue(who))
    url = {
        "login": LOGIN_URL,
        "worklist": WORKLIST_URL,
        "healthz": reverse("healthz"),
        "case": reverse("cases:detail", args=[case.pk]),
        "missing case": reverse("cases:detail", args=[case.pk + 10**6]),
        "team": reverse("cases:team_queue"),
        "approvals": reverse("cases:approvals"),
        "admin": reverse("admin:index"),
        "audit": reverse("accounts:audit"),
        "audit csv": reverse("accounts:audit") + "?format=csv",
    }[page]
    response = client.get(url)
    assert response.status_code == status
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert (response["X-Frame-Options"], response["X-Content-Type-Options"], response["Referrer-Policy"]) == (
        "DENY",
        "nosniff",
        "same-origin",
    )


def test_a_post_without_the_csrf_token_is_refused_and_records_nothing(case):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(case.assigned_to)
    url = reverse("cases:action", args=[case.pk, "note"])
    assert browser.post(url, {"note-text": "没有令牌"}).status_code == 403
    assert not case.events.filter(kind=CaseEvent.Kind.NOTE).exists()
    # The same form sent from the page, with the page's token, goes through.
    page = browser.get(reverse("cases:detail", args=[case.pk])).content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    assert browser.post(url, {"note-text": "带着令牌", "csrfmiddlewaretoken": token}).status_code == 302
    assert [event.detail["text"] for event in case.events.filter(kind=CaseEvent.Kind.NOTE)] == ["带着令牌"]


@pytest.mark.parametrize(
    ("password", "complaint"),
    [
        ("Zx9!kq-T", "too short"),
        ("password1234", "too common"),
        ("20260315884712", "entirely numeric"),
    ],
)
def test_weak_passwords_are_refused(collector, password, complaint):
    with pytest.raises(ValidationError) as refused:
        validate_password(password, user=collector)
    assert any(complaint in message for message in refused.value.messages)


def test_a_long_uncommon_password_is_accepted(collector):
    assert validate_password("Ledger-Lantern-Quill-58", user=collector) is None


def test_the_language_switch_is_remembered_for_the_next_browser(client, collector):
    before = Client()
    before.force_login(collector)
    assert before.get(WORKLIST_URL)["Content-Language"] == "en"
    client.force_login(collector)
    switched = client.post(reverse("accounts:language"), {"language": "zh-hans", "next": WORKLIST_URL})
    assert (switched.status_code, switched["Location"]) == (302, WORKLIST_URL)
    assert switched.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    collector.refresh_from_db()
    assert collector.preferred_language == "zh-hans"
    elsewhere = Client()  # another browser: no language cookie
    elsewhere.force_login(collector)
    page = elsewhere.get(WORKLIST_URL)
    assert settings.LANGUAGE_COOKIE_NAME not in elsewhere.cookies
    assert page["Content-Language"] == "zh-hans"
    assert "我的案件" in page.content.decode()


def test_the_language_switch_never_redirects_to_another_site(client, collector):
    client.force_login(collector)
    switched = client.post(reverse("accounts:language"), {"language": "en", "next": "https://phish.example/"})
    assert switched.status_code == 302
    assert not switched["Location"].startswith("https://phish.example")


def test_an_unknown_language_changes_no_preference(client, collector):
    client.force_login(collector)
    client.post(reverse("accounts:language"), {"language": "xx", "next": WORKLIST_URL})
    collector.refresh_from_db()
    assert collector.preferred_language == ""
