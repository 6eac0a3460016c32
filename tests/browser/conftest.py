"""Real-browser tests: pytest-django's live server (a transactional database) driven by a headless Chromium
through Selenium. Chromium and chromedriver are required: without them these tests fail, they never skip.

Screenshots go to $SCREENSHOT_DIR when it is set (e.g. docs/screenshots), otherwise to the test's tmp_path."""

import os
import threading
import urllib.request
from pathlib import Path

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection
from django.test.testcases import LiveServerThread
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

# The collections fixtures (team, collectors, cases opened by the real nightly run), shared with tests/dunning.
from tests.dunning.conftest import (  # noqa: F401
    cn_product,
    collector,
    other_collector,
    overdue_case,
    overdue_cases,
    supervisor,
    team,
)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "Correct-Horse-42!"
WINDOW = (1400, 1000)
MAX_SCREENSHOT_HEIGHT = 3000
WAIT_SECONDS = 20


@pytest.fixture
def driver():
    """A fresh headless Chromium per test (English, console messages kept for get_log)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is required by the browser tests: apt-get install chromium chromium-driver")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    chrome.set_page_load_timeout(60)
    yield chrome
    chrome.quit()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    directory = Path(os.environ["SCREENSHOT_DIR"]) if os.environ.get("SCREENSHOT_DIR") else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _is_gone(element) -> bool:
    """The old page's element is gone once the new page replaced it. Chromium reports that either as a stale
    element or, caught mid-navigation, as a node that "does not belong to the document"."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise
    return False


class Portal:
    """The portal as a user sees it in the browser: pages, forms that reload the page, messages."""

    def __init__(self, driver, base_url: str, screenshot_dir: Path):
        self.driver = driver
        self.base_url = base_url.rstrip("/")
        self.screenshot_dir = screenshot_dir

    def wait(self, seconds: float = WAIT_SECONDS) -> WebDriverWait:
        return WebDriverWait(self.driver, seconds)

    def visible(self, css: str, seconds: float = WAIT_SECONDS):
        return self.wait(seconds).until(expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def find(self, css: str, within=None):
        return (within or self.driver).find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str, within=None) -> list:
        return (within or self.driver).find_elements(By.CSS_SELECTOR, css)

    def _loaded(self):
        self.wait().until(lambda driver: driver.execute_script("return document.readyState") == "complete")

    def open(self, path: str):
        self.driver.get(self.base_url + path)
        self._loaded()

    def submit(self, action, seconds: float = WAIT_SECONDS):
        """Click a button (or run `action`, e.g. choosing in an auto-submitting select) that loads a new page,
        and wait for that page."""
        page = self.find("html")
        if callable(action):
            action()
        else:
            action.click()
        self.wait(seconds).until(lambda _driver: _is_gone(page))
        self._loaded()

    def fill(self, element, text: str):
        element.clear()
        element.send_keys(text)

    def set_value(self, element, value: str):
        """Set an input's value by script: a date input's typed format follows the browser's locale."""
        self.driver.execute_script("arguments[0].value = arguments[1];", element, value)

    def log_in(self, user):
        user.set_password(PASSWORD)
        user.save()
        self.open("/accounts/login/")
        self.fill(self.find("#id_username"), user.username)
        self.fill(self.find("#id_password"), PASSWORD)
        self.submit(self.find("main form button[type=submit]"))
        assert self.driver.find_elements(By.CSS_SELECTOR, "header .who"), "the login did not succeed"

    def messages(self) -> str:
        return self.visible("ul.messages").text

    def console_errors(self) -> list[dict]:
        """SEVERE browser-console entries since the last call (reading the log empties it)."""
        return [entry for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        path = self.screenshot_dir / name
        if full_page:
            height = self.driver.execute_script(
                "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight);"
            )
            self.driver.set_window_size(WINDOW[0], min(max(height + 120, WINDOW[1]), MAX_SCREENSHOT_HEIGHT))
        try:
            assert self.driver.save_screenshot(str(path)), f"no screenshot saved at {path}"
        finally:
            if full_page:
                self.driver.set_window_size(*WINDOW)
        return path

    def download(self, url: str) -> tuple[int, str, bytes]:
        """GET `url` outside the browser with the browser's session: (status, content type, body)."""
        cookies = "; ".join(f"{cookie['name']}={cookie['value']}" for cookie in self.driver.get_cookies())
        assert url.startswith(self.base_url + "/")  # only ever the live server (S310: no file:// or others)
        request = urllib.request.Request(url, headers={"Cookie": cookies})  # noqa: S310
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, response.headers.get("Content-Type", ""), response.read()


class OneRequestAtATimeServer(ThreadedWSGIServer):
    """The live server, answering one request at a time. On the in-memory SQLite test database every request
    thread shares the test's one connection (pytest-django passes it over), so two requests at once — an
    htmx request the browser abandons and the next one — interleave their savepoints on it ("no such
    savepoint", a 500 in a browser test now and then). Connections are still accepted by threads, so an
    idle connection the browser opens ahead does not block the others; only the application is serial."""

    _application_lock = threading.Lock()

    def set_app(self, application):
        def one_at_a_time(environ, start_response):
            with self._application_lock:
                result = application(environ, start_response)
                try:
                    return list(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()  # request_finished, inside the lock like the rest

        super().set_app(one_at_a_time)


@pytest.fixture(scope="session", autouse=True)
def live_server_one_request_at_a_time_on_sqlite():
    """Before pytest-django starts its live server (session-scoped too; autouse fixtures come first)."""
    if connection.vendor != "sqlite":
        yield
        return
    threaded = LiveServerThread.server_class
    LiveServerThread.server_class = OneRequestAtATimeServer
    yield
    LiveServerThread.server_class = threaded


@pytest.fixture
def portal(driver, live_server, screenshot_dir) -> Portal:
    return Portal(driver, live_server.url, screenshot_dir)
