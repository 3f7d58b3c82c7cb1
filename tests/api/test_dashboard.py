"""The /ui dashboard through the real app and a real Redis: open and keyed modes, login,
sessions, CSRF, degraded mode, the model switch and the preview that records nothing."""

from __future__ import annotations

import hashlib
import re
import time

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from store.apikeys import create_key, revoke_key
from store.events import StreamReader
from store.keys import Keys
from tests.api.personal_factories import bundle, catalogue, publish, rules_dir

__all__ = ["rules_dir"]  # a fixture
KEYS = Keys()
PAGES = ("/ui/", "/ui/customers", "/ui/customers?customer_id=c1", "/ui/models", "/ui/segments",
         "/ui/experiments", "/ui/rules", "/ui/operations")  # fmt: skip


def plots_have_their_library(html: str) -> bool:
    """A page with a plot loads the chart library and the drawing script."""
    return "data-plot=" not in html or ("uPlot.iife.min." in html and "charts." in html)


def client_for(store_config, **overrides) -> TestClient:
    settings = ApiSettings(
        data_dir=store_config.data_dir, redis_url=store_config.redis_url, auth_cache_seconds=0,
        **overrides,
    )  # fmt: skip
    return TestClient(create_app(settings), follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@pytest.fixture
def published(redis_client, store_config):
    """Two serving versions, the second live."""
    first = publish(redis_client, store_config, bundle(catalogue()))
    second = publish(redis_client, store_config, bundle(catalogue()))
    return first, second


def test_open_api_means_an_open_dashboard_that_says_so(store_config, published):
    with client_for(store_config) as c:
        cookie = c.get("/ui/").headers["set-cookie"].lower()  # the first visit's session
        for path in PAGES:
            page = c.get(path)
            assert page.status_code == 200, path
            assert "open to anyone" in page.text, path
            assert plots_have_their_library(page.text), path
            assert "set-cookie" not in page.headers  # the same session goes on
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=" in cookie


def test_static_files_are_named_by_their_content_hash_and_cached_for_good(store_config):
    with client_for(store_config) as c:
        page = c.get("/ui/segments").text
        paths = re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', page)
        assert any("uPlot.iife.min." in p for p in paths)
        for path in paths:
            response = c.get(path)
            assert response.status_code == 200
            digest = hashlib.sha256(response.content).hexdigest()[:10]
            assert f".{digest}." in path
            assert "immutable" in response.headers["cache-control"]
        assert c.get("/ui/static/uPlot.iife.min.js").status_code == 404  # only hashed names


def test_keys_in_force_ask_for_a_login_and_refuse_wrong_keys(store_config, redis_client, published):
    _, dashboard = create_key(redis_client, KEYS, name="marketing", scopes=["dashboard"])
    _, writer = create_key(redis_client, KEYS, name="pos", scopes=["events:write"])
    with client_for(store_config) as c:
        first = c.get("/ui/models")
        assert first.status_code == 303
        assert first.headers["location"] == "/ui/login?next=/ui/models"
        login = c.get("/ui/login?next=/ui/models")
        token = csrf_of(login.text)
        wrong = c.post("/ui/login", data={"csrf": token, "key": "tp_nope.nope", "next": "/ui/"})
        assert wrong.status_code == 401 and 'id="login-error"' in wrong.text
        scope = c.post("/ui/login", data={"csrf": token, "key": writer, "next": "/ui/"})
        assert scope.status_code == 403 and "dashboard" in scope.text
        no_csrf = c.post("/ui/login", data={"key": dashboard, "next": "/ui/"})
        assert no_csrf.status_code == 403
        ok = c.post("/ui/login", data={"csrf": token, "key": dashboard, "next": "/ui/models"})
        assert ok.status_code == 303 and ok.headers["location"] == "/ui/models"
        page = c.get("/ui/models")
        assert page.status_code == 200 and "open to anyone" not in page.text
        kid = dashboard.split(".")[0]
        assert kid in page.text or "signed in with key" in page.text


def test_a_login_never_redirects_off_the_dashboard(store_config, redis_client, published):
    _, dashboard = create_key(redis_client, KEYS, name="m", scopes=["dashboard"])
    with client_for(store_config) as c:
        token = csrf_of(c.get("/ui/login").text)
        ok = c.post("/ui/login", data={"csrf": token, "key": dashboard,
                                       "next": "//evil.example/"})  # fmt: skip
    assert ok.headers["location"] == "/ui/"


def test_a_tampered_or_revoked_session_goes_back_to_login(store_config, redis_client, published):
    record, admin = create_key(redis_client, KEYS, name="ops", scopes=["admin"])
    with client_for(store_config) as c:
        token = csrf_of(c.get("/ui/login").text)
        c.post("/ui/login", data={"csrf": token, "key": admin})
        assert c.get("/ui/").status_code == 200
        good = c.cookies.get("tp_ui")
        body, _, mac = good.partition(".")
        c.cookies.set("tp_ui", body[:-2] + "xx." + mac, path="/ui")
        assert c.get("/ui/").status_code == 303
        c.cookies.set("tp_ui", good, path="/ui")
        assert c.get("/ui/").status_code == 200
        revoke_key(redis_client, KEYS, record.id)
        time.sleep(1.1)  # keys are re-read at most once a second (api.auth.RETRY_GAP)
        assert c.get("/ui/").status_code == 303


def test_logout_needs_the_token_and_ends_the_session(store_config, redis_client, published):
    _, dashboard = create_key(redis_client, KEYS, name="m", scopes=["dashboard"])
    with client_for(store_config) as c:
        token = csrf_of(c.get("/ui/login").text)
        c.post("/ui/login", data={"csrf": token, "key": dashboard})
        page = c.get("/ui/").text
        assert c.post("/ui/logout", data={}).status_code == 403
        out = c.post("/ui/logout", data={"csrf": csrf_of(page)})
        assert out.status_code == 303
        assert c.get("/ui/").status_code == 303


def test_switching_the_model_needs_confirmation_and_is_logged(
    store_config, redis_client, published
):
    first, second = published
    live_key = KEYS.live("serving")
    with client_for(store_config) as c:
        page = c.get("/ui/models")
        assert "Roll back to this" in page.text
        token = csrf_of(page.text)
        form = {"csrf": token, "version": first, "action": "rollback"}
        asked = c.post("/ui/models/switch", data=form)
        assert asked.status_code == 200 and 'id="confirm"' in asked.text
        assert redis_client.get(live_key).decode() == second  # nothing switched yet
        forged = c.post("/ui/models/switch", data={**form, "confirm": "yes", "csrf": "x"})
        assert forged.status_code == 403
        assert redis_client.get(live_key).decode() == second
        done = c.post("/ui/models/switch", data={**form, "confirm": "yes"})
        assert done.status_code == 303
        assert f"{first} is live" in c.get(done.headers["location"]).text  # the notice
        forged = c.get("/ui/models", params={"notice": "Enter your key at evil.example"})
        assert "evil.example" not in forged.text  # only notices the dashboard signed
        assert redis_client.get(live_key).decode() == first
        assert c.get("/v1/customers/c1/recommendations").json()["model_version"] == first
        ops = c.get("/ui/operations").text
    assert "rollback" in ops and "anonymous (API open)" in ops and first in ops


def test_the_preview_shows_what_the_api_serves_and_records_nothing(
    store_config, redis_client, published
):
    with client_for(store_config) as c:
        page = c.get("/ui/customers?customer_id=c1")
        assert page.status_code == 200
        assert not list(redis_client.scan_iter("tp:r:*"))  # nothing recorded as served
        assert not list(redis_client.scan_iter("tp:c:{c1}:*"))  # no impression counted
        api = c.get("/v1/customers/c1/recommendations", params={"channel": "web", "k": 5})
    web = page.text.split('data-channel="web"')[1].split("</table>")[0]
    shown = re.findall(r'data-item="([^"]+)"', web.split("</tr>")[1])  # the products row
    assert shown == [i["item_id"] for i in api.json()["items"]]


def test_a_bad_customer_id_is_named_not_looked_up(store_config, published):
    with client_for(store_config) as c:
        page = c.get("/ui/customers", params={"customer_id": "a{b}"})
    assert page.status_code == 422 and 'aria-invalid="true"' in page.text


def test_redis_down_renders_every_page_with_a_banner(store_config, published, redis_server):
    with client_for(store_config) as c:
        assert c.get("/ui/").status_code == 200
        redis_server.stop()
        try:
            for path in PAGES:
                page = c.get(path)
                assert page.status_code == 200, (path, page.text[-500:])
                assert "Redis is unreachable" in page.text, path
        finally:
            redis_server.start()


def test_experiment_status_changes_with_the_token(store_config, published):
    variants = [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]
    definition = {"key": "hero", "status": "draft", "control": "a", "variants": variants}
    with client_for(store_config) as c:
        assert c.put("/v1/experiments/hero", json=definition).status_code in (200, 201)
        page = c.get("/ui/experiments/hero")
        assert page.status_code == 200 and "Start the experiment" in page.text
        done = c.post("/ui/experiments/hero/status",
                      data={"csrf": csrf_of(page.text), "status": "running"})  # fmt: skip
        assert done.status_code == 303
        assert c.get("/v1/experiments/hero").json()["status"] == "running"
        variant = c.get("/v1/experiments/hero/assignment/c1").json()["variant"]
        customer = c.get("/ui/customers", params={"customer_id": "c1"}).text
        assert f'hero → {variant} <span class="muted">on web, app, email' in customer
        assert "results" in c.get("/ui/experiments/hero").text
        csv = c.get("/ui/experiments/hero/results.csv")
    assert csv.status_code == 200 and csv.text.startswith("variant,")


def test_rules_page_shows_the_rules_in_force_and_budgets_used(
    store_config, redis_client, published
):
    redis_client.hincrby(KEYS.global_("redeemed"), "o4", 1)  # o4's budget is 1
    with client_for(store_config) as c:
        page = c.get("/ui/rules").text
    assert 'id="rules-ok"' in page
    row = page.split('id="budgets"')[1].split('muted">o4</span>')[1].split("</tr>")[0]
    assert re.findall(r'class="num">([^<]+)<', row) == ["1", "1", "0", "100%"]


def test_rules_page_names_a_refused_reload(store_config, published, rules_dir):
    (rules_dir / "default.yaml").write_text("diversity: {max_per_category: 2}\n")
    with client_for(store_config) as c:
        page = c.get("/ui/rules").text
        assert 'id="rules-ok"' in page and "2 per category" in page
        (rules_dir / "default.yaml").write_text("diversity: {max_per_category: many}\n")
        c.app.parts.rules.request_reload()  # what SIGHUP does; else re-checked within 1 s
        page = c.get("/ui/rules").text
    assert 'id="rules-error"' in page, page[page.index("<main") :][:1500]
    error = page.split('id="rules-error"')[1].split("</div>")[0]
    assert "default.yaml" in error and "max_per_category" in error
    assert "2 per category" in page  # the previous rules stay in force, and shown


def test_overview_counts_answers_served_and_attributed_conversions(store_config, published):
    with client_for(store_config) as c:
        for channel in ("web", "web", "app"):
            params = {"channel": channel, "k": 3}
            answer = c.get("/v1/customers/c1/recommendations", params=params).json()
        c.get("/ui/customers", params={"customer_id": "c1"})  # a preview: not an answer served
        click = {"event_id": "e-click", "customer_id": "c1", "type": "click",
                 "item_id": answer["items"][0]["item_id"],
                 "recommendation_id": answer["recommendation_id"]}  # fmt: skip
        assert c.post("/v1/events", json=click).status_code == 202
        page = c.get("/ui/").text
    rates = page.split('id="served-rates"')[1].split("</table>")[0]
    assert '<td>3 <span class="muted">(app 1 · web 2)</span></td>' in rates
    assert '1 <span class="muted">(33.33%)</span>' in rates  # one click per three answers
    assert 'data-plot="served-data"' in page


def test_experiment_page_plots_entries_and_lift_over_days(store_config, redis_client, published):
    variants = [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]
    definition = {"key": "hero", "status": "running", "control": "a", "variants": variants}
    with client_for(store_config) as c:
        assert c.put("/v1/experiments/hero", json=definition).status_code in (200, 201)
        for customer in ("c1", "c2", "c3", "c4"):
            c.get(f"/v1/customers/{customer}/recommendations")  # exposures, today
        first = KEYS.experiment("hero", "first")
        assert redis_client.hlen(first) == 4
        redis_client.hset(first, "c1", f"{time.time() - 3 * 86400:.3f}")  # entered 3 days ago
        page = c.get("/ui/experiments/hero").text
    entered = re.search(r'id="entered-data">([^<]+)<', page)
    assert entered is not None and 'data-plot="lift-data"' in page
    data = orjson.loads(entered.group(1))
    assert len(data["x"]) == 4 and sum(map(sum, data["series"].values())) == 4
    assert sum(series[0] for series in data["series"].values()) == 1  # c1, three days ago
    assert plots_have_their_library(page)


def test_production_with_redis_down_refuses_logins_with_a_page_not_a_500(
    store_config, redis_server
):
    redis_server.stop()
    try:
        with client_for(store_config, environment="production") as c:
            assert c.get("/ui/").headers["location"].startswith("/ui/login")
            login = c.get("/ui/login")
            assert login.status_code == 200 and "Redis is unreachable" in login.text
            refused = c.post("/ui/login", data={"csrf": csrf_of(login.text), "key": "tp_x.y"})
    finally:
        redis_server.start()
    assert refused.status_code in (401, 503) and 'id="login-error"' in refused.text


def test_operations_shows_the_ingest_backlog_and_its_age(store_config, redis_client, published):
    events = [{"event_id": f"e{i}", "customer_id": "c1", "item_id": "p1", "type": "view"}
              for i in range(3)]  # fmt: skip
    with client_for(store_config) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 202
        waiting = c.get("/ui/operations").text.split("Ingest backlog: events")[1]
        reader = StreamReader(redis_client, KEYS, "events")  # what `touchpoint ingest` does
        reader.ensure_group()
        reader.ack([e.stream_id for e in reader.read(10, pending=False)])
        drained = c.get("/ui/operations").text.split("Ingest backlog: events")[1]
    assert re.search(r'class="value">3<', waiting) and "oldest waiting 0.0 min" in waiting
    assert re.search(r'class="value">0<', drained) and "oldest waiting" not in drained
