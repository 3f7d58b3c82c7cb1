"""The dashboard in a real browser: Debian's chromium driven by Playwright, against
`touchpoint serve` (uvicorn on a free 127.0.0.1 port, the test session's own Redis) over
demo data made by `touchpoint generate` + `touchpoint run` + a second `touchpoint train`.

Every page: loads without a JavaScript console error, asks nothing of any host but
127.0.0.1, draws every plot (a non-blank canvas), and leaves a screenshot in the test's
output folder. Flows: a wrong key is refused and a right one logs in; a customer looked up
shows the items the API returns; a rollback in the dashboard makes the API serve the
previous version; logout ends the session. Forms are checked for labels and reached by
keyboard.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
import redis
from typer.testing import CliRunner

from jobs.cli import build_app
from store.apikeys import create_key
from store.keys import Keys
from tests.test_end_to_end import free_port

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
TOUCHPOINT = [sys.executable, "-c", "from jobs.cli import main; main()"]
PAGES = ("/ui/", "/ui/customers", "/ui/models", "/ui/segments", "/ui/experiments", "/ui/cx",
         "/ui/cases", "/ui/rules", "/ui/operations")  # fmt: skip

if not Path(CHROMIUM).exists():  # .ci/run installs it; elsewhere say what is missing
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run should have installed chromium")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def _cli(*args: str, env: dict[str, str]) -> str:
    """A batch command in this process (its imports are paid once, not per command)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:  # the CLI points the root logger at its stderr, which the runner closes after
        done = CliRunner().invoke(build_app(), list(args), env=env)
    finally:
        root.handlers[:], root.level = handlers, level
    assert done.exit_code == 0, (done.output[-3000:], done.exception)
    return done.output


@pytest.fixture(scope="module")
def served(redis_server, tmp_path_factory) -> Iterator[dict[str, object]]:
    data = tmp_path_factory.mktemp("ui") / "data"
    env = {**os.environ, "TOUCHPOINT_REDIS_URL": redis_server.url,
           "TOUCHPOINT_DATA_DIR": str(data), "TOUCHPOINT_AUTH_CACHE_SECONDS": "0"}  # fmt: skip
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    _cli("generate", "--customers", "500", "--items", "120", "--seed", "3", "--out", str(data),
         env=env)  # fmt: skip
    _cli("run", "--data", str(data), "--budget-seconds", "3", env=env)
    _cli("train", "--data", str(data), "--budget-seconds", "1", env=env)  # a second version
    _cli("segment", "--data", str(data), env=env)  # a second run: size history to draw
    keys = Keys()
    _, dashboard_key = create_key(client, keys, name="marketing", scopes=["dashboard"])
    _, reader_key = create_key(client, keys, name="shop", scopes=["personalize:read"])
    port = free_port()
    server = subprocess.Popen(
        [*TOUCHPOINT, "serve", "--data", str(data), "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("API did not become ready")
        yield {"base": base, "data": data, "key": dashboard_key, "reader": reader_key,
               "redis": client}  # fmt: skip
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()  # a connection left open keeps uvicorn waiting; fail, but end
            server.wait(timeout=20)
            raise
        finally:
            client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Watched:
    """A page whose console errors and off-host requests are collected."""

    def __init__(self, browser: object) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.elsewhere: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else 0)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", self._request)

    def _request(self, request: object) -> None:
        url = urlparse(request.url)  # type: ignore[attr-defined]
        if url.scheme not in ("data", "about") and url.hostname != "127.0.0.1":
            self.elsewhere.append(request.url)  # type: ignore[attr-defined]

    def login(self, base: str, key: str) -> None:
        self.page.goto(f"{base}/ui/")
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(f"{base}/ui/")


def plots_drawn(page: object) -> list[bool]:
    """Per plot container: drawn, with a canvas holding at least one non-blank pixel."""
    return page.evaluate(  # type: ignore[attr-defined, no-any-return]
        """() => Array.from(document.querySelectorAll('.plot[data-plot]')).map(box => {
            const canvas = box.querySelector('canvas');
            if (!canvas || box.dataset.drawn !== '1' || !canvas.width) return false;
            const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
            return false;
        })"""
    )


def hangul_drawn(page: object) -> bool:
    """Whether the page's font draws Hangul: two different syllables drawn on a canvas
    differ (a missing glyph is the same empty box for both)."""
    return page.evaluate(  # type: ignore[attr-defined, no-any-return]
        """() => {
            const font = getComputedStyle(document.body).font;
            const pixels = ch => {
                const c = document.createElement('canvas'); c.width = 40; c.height = 40;
                const g = c.getContext('2d'); g.font = font; g.fillText(ch, 4, 30);
                return Array.from(g.getImageData(0, 0, 40, 40).data).join(',');
            };
            return pixels('배') !== pixels('송');
        }"""
    )


def unlabelled_controls(page: object) -> list[str]:
    return page.evaluate(  # type: ignore[attr-defined, no-any-return]
        """() => Array.from(document.querySelectorAll('input:not([type=hidden]), button, select'))
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !(el.textContent || '').trim())
            .map(el => el.outerHTML)"""
    )


def test_wrong_key_refused_then_every_page_loads_clean(served, browser, tmp_path):
    base = str(served["base"])
    w = Watched(browser)
    page = w.page
    page.goto(f"{base}/ui/models")
    assert "/ui/login" in page.url
    page.get_by_label("API key").fill(str(served["reader"]))  # a key without the scope
    page.get_by_role("button", name="Log in").click()
    assert "dashboard" in page.locator("#login-error").inner_text()
    page.get_by_label("API key").fill("tp_wrong.key")
    page.get_by_role("button", name="Log in").click()
    assert page.locator("#login-error").is_visible()
    w.login(base, str(served["key"]))
    w.errors.clear()  # the refusals above answered 401 and 403, as they should
    plots = 0
    drawn_on: dict[str, int] = {}
    for path in PAGES:
        page.goto(base + path)
        page.wait_for_load_state("load")
        page.wait_for_function("() => Array.from(document.querySelectorAll('.plot[data-plot]'))"
                               ".every(b => b.dataset.drawn === '1')", timeout=5000)  # fmt: skip
        drawn = plots_drawn(page)
        assert all(drawn), (path, drawn)
        plots += len(drawn)
        drawn_on[path] = len(drawn)
        assert unlabelled_controls(page) == [], path
        text = page.inner_text("main")
        assert "built-in method" not in text and "Undefined" not in text, path
        shot = tmp_path / f"{path.strip('/').replace('/', '-') or 'overview'}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    assert plots >= 2  # the events plot and the segment sparklines at least
    assert drawn_on["/ui/cx"] >= 2  # `touchpoint run` published insights: trends, emotion
    assert w.errors == []
    assert w.elsewhere == []
    w.context.close()


def test_customer_lookup_by_keyboard_shows_what_the_api_serves(served, browser, tmp_path):
    base = str(served["base"])
    w = Watched(browser)
    w.login(base, str(served["key"]))
    page = w.page
    page.goto(f"{base}/ui/customers")
    for _ in range(20):  # Tab from the top of the page to the search field
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "customer_id":
            break
    else:
        pytest.fail("the customer search field cannot be reached with Tab")
    customer = "C000010"
    page.keyboard.type(customer)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/customers?customer_id={customer}")
    shown = page.locator('table[data-channel="web"] tbody tr').first.locator("li[data-item]")
    ids = [shown.nth(i).get_attribute("data-item") for i in range(shown.count())]
    api = httpx.get(f"{base}/v1/customers/{customer}/recommendations",
                    params={"channel": "web", "k": 5},
                    headers={"X-API-Key": str(served["reader"])}).json()  # fmt: skip
    assert ids == [item["item_id"] for item in api["items"]]
    page.screenshot(path=str(tmp_path / "customer-360.png"), full_page=True)
    assert w.errors == [] and w.elsewhere == []
    w.context.close()


def test_rollback_in_the_dashboard_serves_the_previous_version_then_logout(served, browser):
    base, reader = str(served["base"]), str(served["reader"])
    client = served["redis"]
    history = [v.decode() for v in client.lrange(Keys().versions("serving"), 0, -1)]  # type: ignore[attr-defined]
    live, previous = history[0], history[1]
    w = Watched(browser)
    w.login(base, str(served["key"]))
    page = w.page
    page.goto(f"{base}/ui/models")
    page.get_by_role("button", name=f"Roll back to {previous}").click()
    assert previous in page.locator("h1").inner_text()  # the confirmation page
    page.get_by_role("button", name="Yes, roll back").click()
    page.wait_for_url("**/ui/models?notice=*")
    assert page.locator(f'tr.live[data-version="{previous}"]').count() == 1
    answer = httpx.get(f"{base}/v1/customers/C000010/recommendations",
                       headers={"X-API-Key": reader}).json()  # fmt: skip
    assert answer["model_version"] == previous != live
    page.goto(f"{base}/ui/operations")
    assert "rollback" in page.locator("#actions").inner_text()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/ui/login")
    page.goto(f"{base}/ui/")
    assert "/ui/login" in page.url
    assert w.errors == [] and w.elsewhere == []
    w.context.close()


def test_pages_work_with_javascript_off(served, browser):
    """Everything but the plots is server-rendered: log in, look a customer up, open the
    segments heatmap and an export link, all without JavaScript."""
    base = str(served["base"])
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{base}/ui/")
    page.get_by_label("API key").fill(str(served["key"]))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/ui/")
    page.goto(f"{base}/ui/customers")
    page.get_by_label("Customer id").fill("C000010")
    page.get_by_role("button", name="Look up").click()
    assert page.locator('table[data-channel="web"] li[data-item]').count() > 0
    page.goto(f"{base}/ui/segments")
    assert page.locator("#rfm-heatmap td").count() == 25
    with page.expect_download() as download:
        page.locator('a[href$="/members.csv"]').first.click()
    assert download.value.suggested_filename.endswith(".csv")
    saved = download.value.path()  # waits for the download to finish
    assert saved.read_text().startswith("customer_id")
    context.close()


def test_a_case_is_worked_from_the_cases_page(served, browser, tmp_path):
    """A detractor's answer opens a case; the queue shows it and marks it contacted through
    the form; the API then reads it as contacted, and the action is in the audit trail."""
    base, client = str(served["base"]), served["redis"]
    _, admin = create_key(client, Keys(), name="survey-tool", scopes=["admin"])  # type: ignore[arg-type]
    answer = {"response_id": "browser-r1", "customer_id": "C000010", "survey": "nps",
              "score": 1, "touchpoint": "support", "channel": "web",
              "comment": "배송이 너무 늦어요 — and nobody answered"}  # fmt: skip
    headers = {"X-API-Key": admin}
    assert httpx.post(f"{base}/v1/feedback", json=answer, headers=headers).status_code < 300
    case = httpx.get(f"{base}/v1/cases", params={"touchpoint": "support"},
                     headers=headers).json()["cases"][0]  # fmt: skip
    w = Watched(browser)
    w.login(base, str(served["key"]))
    page = w.page
    page.goto(f"{base}/ui/cases?touchpoint=support")
    row = page.locator(f'tr[data-case="{case["case_id"]}"]')
    assert "배송이 너무 늦어요" in row.inner_text()
    assert hangul_drawn(page), "no Hangul font: install fonts-nanum (as .ci/run does)"
    assert unlabelled_controls(page) == []
    row.get_by_label("Note").fill("called back")
    row.get_by_role("button", name="Mark contacted").click()
    page.wait_for_url("**/ui/cases?*notice=*")
    assert "contacted" in page.locator(f'tr[data-case="{case["case_id"]}"] td.status').inner_text()
    page.screenshot(path=str(tmp_path / "cases.png"), full_page=True)
    now = httpx.get(f"{base}/v1/cases/{case['case_id']}", headers=headers).json()
    assert now["status"] == "contacted" and now["notes"][-1]["note"] == "called back"
    page.goto(f"{base}/ui/customers?customer_id=C000010")
    assert case["case_id"] in page.locator("#open-cases").inner_text()
    assert w.errors == [] and w.elsewhere == []
    w.context.close()
