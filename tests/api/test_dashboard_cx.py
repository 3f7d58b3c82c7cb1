"""The dashboard's customer-experience parts through the real app and a real Redis: the
Customer experience page (empty and published), the Cases page (filters, paging, status
changes with CSRF and a stale version), NPS on the overview, cases on Customer 360."""

from __future__ import annotations

import html
import re
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.services import insights as service
from api.settings import ApiSettings
from api.ui import cases_view
from insights.build import document_name
from store import audit
from store.insights import publish_insights
from store.keys import Keys
from tests.api.personal_factories import bundle, catalogue, publish

KEYS = Keys()
REPO_RULES = Path(__file__).resolve().parents[2] / "rules"
STAGES = ["before_purchase", "purchase_and_use", "after_use"]
KOREAN = "배송이 너무 늦어요"


@pytest.fixture(autouse=True)
def cold_cache(monkeypatch):
    """The live insights pointer is re-read on every request (no polling delay)."""
    monkeypatch.setattr(service, "CACHE", service.DocumentCache(live_seconds=0))


@pytest.fixture
def client(store_config, redis_client, tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(REPO_RULES / "cases.yaml", rules / "cases.yaml")
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(rules))
    publish(redis_client, store_config, bundle(catalogue()))
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings), follow_redirects=False) as c:
        yield c


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


def cell(row_name: str, metric: str, page: str, table: str) -> str:
    body = page.split(f'id="{table}"')[1].split("</table>")[0]
    row = body.split(f'data-row="{row_name}"')[1].split("</tr>")[0]
    return row.split(f'data-metric="{metric}"')[1].split("</td>")[0]


def score(tp: str, metric: str, value: float, n: int, half: float, **extra) -> dict:
    return {"touchpoint": tp, "metric": metric, "n": n, "value": value, "low": value - half,
            "high": value + half, "insufficient": n < 30, **extra}  # fmt: skip


def stage(name: str, nps: float, satisfaction: float, sentiment: float) -> dict:
    nps_cell = {"value": nps, "low": nps - 10, "high": nps + 10, "n": 40, "insufficient": False}
    csat_cell = {"value": 70.0, "low": 60.0, "high": 80.0, "n": 12, "insufficient": True}
    cells = {"nps": nps_cell, "csat": csat_cell}
    emotion = {"stage": name, "satisfaction": satisfaction, "sentiment": sentiment}
    return {"stage": name, "n": 52, **cells, "emotion": emotion}


def documents(until: date) -> dict:
    weeks = [(until - timedelta(weeks=w)).isoformat() for w in (2, 1, 0)]
    days = ((0, 10, 50.0), (5, 30, -10.0), (40, 100, 90.0))  # (days back, n, NPS)
    daily = [{"period": (until - timedelta(days=d)).isoformat(), "metric": "nps", "n": n,
              "value": v} for d, n, v in days]  # fmt: skip
    return {
        document_name("nps", ["touchpoint"], None): [
            score("checkout", "nps", 30.0, 120, 9.0), score("support", "nps", -20.0, 12, 40.0)],
        document_name("csat", ["touchpoint"], None): [score("checkout", "csat", 80.0, 90, 5.0)],
        document_name("ces", ["touchpoint"], None): [],
        document_name("nps", ["stage"], "week"): [
            {"stage": s, "period": w, "metric": "nps", "n": 5, "value": v}
            for s, v in (("purchase_and_use", 10.0), ("after_use", -30.0)) for w in weeks],
        document_name("nps", [], "day"): daily,
        "journey": {"stages": [stage("before_purchase", 20.0, 0.7, 0.3),
                               stage("purchase_and_use", -5.0, 0.6, 0.1),
                               stage("after_use", -40.0, 0.4, -0.5)]},
        "journey_map": {"stages": STAGES, "touchpoints": {
            "checkout": {"stage": "purchase_and_use"}, "support": {"stage": "after_use"}}},
        "drivers/nps": {"n": 75, "r2": 0.5, "drivers": [], "importance_performance": [
            {"feature": "satisfaction:support", "weight": 0.3, "performance": 0.4,
             "quadrant": "fix first", "significant": True}]},
        "themes": {"n_comments": 40, "themes": [
            {"name": "배송 · late", "terms": ["배송", "late", "parcel"], "n": 12, "share": 30.0,
             "lift": 4.5, "lift_low": 1.2, "lift_high": 9.0, "trend": {"direction": "rising"},
             "examples": [KOREAN, "The parcel came <late>", "Still waiting", "a fourth"]}]},
        "summary": {"responses": 300, "customers": 150, "comments": 40, "min_n": 30,
                    "since": "2024-01-01", "until": until.isoformat()},
    }  # fmt: skip


def test_customer_experience_page_says_to_run_the_batch_when_nothing_is_published(client):
    page = client.get("/ui/cx")
    assert page.status_code == 200
    empty = page.text.split('id="cx-empty"')[1].split("</div>")[0]
    assert "touchpoint insights" in empty
    assert 'data-plot="' not in page.text


def test_customer_experience_page_shows_the_published_insights(client, redis_client, store_config):
    until = date(2025, 1, 3)
    publish_insights(redis_client, store_config, documents(until))
    page = client.get("/ui/cx")
    assert page.status_code == 200
    text = page.text
    checkout = cell("checkout", "nps", text, "cx-touchpoints")
    assert "30.0" in checkout and "[21.0, 39.0]" in checkout and "n 120" in checkout
    assert "insufficient" not in checkout
    # NPS runs -100..100: 21 sits at 60.5% of the bar, 39 at 69.5%, 30 at 65%
    assert "left: 60.5%; width: 9.0%" in checkout and 'left: 65.0%"' in checkout
    support = cell("support", "nps", text, "cx-touchpoints")
    assert "n 12" in support and "few" in support  # under min_n: shown and marked
    assert "no answers" in cell("support", "csat", text, "cx-touchpoints")
    stages = re.findall(r'data-row="([^"]+)"', text.split('id="cx-stages"')[1].split("</table>")[0])
    assert stages == STAGES  # journey order, not alphabetical
    trend = orjson.loads(re.search(r'id="trend-nps">([^<]+)<', text).group(1))
    assert len(trend["x"]) == 3 and trend["series"]["after_use"] == [-30.0, -30.0, -30.0]
    emotion = orjson.loads(re.search(r'id="emotion-data">([^<]+)<', text).group(1))
    assert emotion["labels"] == STAGES
    assert emotion["series"]["sentiment (-1..1)"] == [0.3, 0.1, -0.5]
    scatter = orjson.loads(re.search(r'id="drivers-data">([^<]+)<', text).group(1))
    assert scatter["x"] == [0.4] and scatter["series"] == {"fix first": [0.3]}
    drivers = text.split('id="cx-drivers"')[1].split("</table>")[0]
    assert 'data-quadrant="fix first"' in drivers and "satisfaction:support" in drivers
    themes = text.split('id="cx-themes"')[1].split("</table>")[0]
    assert KOREAN in themes and "배송" in themes  # UTF-8 as is, not mangled
    assert "The parcel came &lt;late&gt;" in themes  # comments are escaped
    assert "a fourth" not in themes and "Still waiting" in themes  # three examples
    assert "4.50" in themes and "[1.20, 9.00]" in themes


def post_answers(client, answers: list[tuple[str, int, str]]) -> None:
    for n, (customer, value, touchpoint) in enumerate(answers):
        body = {"response_id": f"r{n}-{customer}", "customer_id": customer, "survey": "nps",
                "score": value, "touchpoint": touchpoint, "channel": "web",
                "comment": "support never answered"}  # fmt: skip
        assert client.post("/v1/feedback", json=body).status_code in (200, 201, 202)


def test_overview_puts_nps_today_beside_the_last_30_days(client, redis_client, store_config):
    assert 'id="fact-nps"' not in client.get("/ui/").text  # no insights: no comparison
    today = datetime.now(UTC).date()
    publish_insights(redis_client, store_config, documents(today))
    # today: two promoters, one passive, one detractor -> (2 - 1) / 4 = 25
    post_answers(client, [("c1", 10, "checkout"), ("c2", 9, "app"), ("c3", 8, "app"),
                          ("c4", 2, "support")])  # fmt: skip
    card = client.get("/ui/").text.split('id="fact-nps"')[1].split("</div></div>")[0]
    assert re.search(r'class="value">25\.0<', card)
    assert "4 answers today" in card
    # the batch's days within 30 days: 10 at 50 and 30 at -10 -> (500 - 300) / 40 = 5
    assert "last 30 days: 5.0" in card and "n 40" in card


def test_case_queue_filters_pages_and_marks_overdue(client, redis_client, monkeypatch):
    monkeypatch.setattr(cases_view, "PAGE_SIZE", 2)
    post_answers(client, [("c1", 1, "support"), ("c2", 2, "delivery"), ("c3", 3, "support")])
    ids = [c["case_id"] for c in client.get("/v1/cases").json()["cases"]]
    late = ids[-1]
    redis_client.hset(KEYS.cases(f"case:{late}"), "due_at", "2020-01-01T00:00:00Z")
    first = client.get("/ui/cases")
    assert first.status_code == 200
    shown = re.findall(r'<tr data-case="([^"]+)"', first.text)
    assert shown == ids[:2]
    following = html.unescape(re.search(r'href="([^"]+)" id="next-page"', first.text).group(1))
    second = client.get(following).text
    assert re.findall(r'<tr data-case="([^"]+)"', second) == [late]
    assert f'<tr data-case="{late}" class="overdue"' in second and "overdue</span>" in second
    support = client.get("/ui/cases", params={"queue": "support"}).text
    assert re.findall(r'<tr data-case="([^"]+)"', support) == [ids[0], ids[2]]
    none = client.get("/ui/cases", params={"status": "resolved"}).text
    assert 'id="no-cases"' in none
    junk = client.get("/ui/cases", params={"cursor": "not-a-cursor"})
    assert junk.status_code == 200 and re.search(
        r'class="banner warn"[^>]*>cases: cursor', junk.text
    )


def change(client, page: str, case_id: str, status: str, **extra) -> object:
    version = re.search(rf'/ui/cases/{case_id}/status".*?name="version" value="(\d+)"', page,
                        re.S).group(1)  # fmt: skip
    form = {"csrf": csrf_of(page), "version": version, "status": status,
            "back": "/ui/cases?status=open", **extra}  # fmt: skip
    return client.post(f"/ui/cases/{case_id}/status", data=form)


def test_a_status_change_is_applied_audited_and_refused_when_stale_or_forged(client, redis_client):
    post_answers(client, [("c1", 1, "support")])
    case_id = client.get("/v1/cases").json()["cases"][0]["case_id"]
    page = client.get("/ui/cases").text
    assert f'id="contacted-{case_id}"' in page and f'id="resolved-{case_id}"' not in page
    forged = change(client, page, case_id, "contacted", csrf="not-the-token")
    assert forged.status_code == 403
    assert client.get(f"/v1/cases/{case_id}").json()["status"] == "open"
    done = change(client, page, case_id, "contacted", note="called her back")
    assert done.status_code == 303 and done.headers["location"].startswith("/ui/cases?status=open")
    case = client.get(f"/v1/cases/{case_id}").json()
    assert case["status"] == "contacted" and case["notes"][-1]["note"] == "called her back"
    entries = audit.read(redis_client, KEYS)
    assert [(e["action"], e["target"]) for e in entries][-1] == ("dashboard.case status", case_id)
    assert "anonymous" in entries[-1]["who"]
    # the same (now stale) page sent again: refused with a message, the case untouched
    stale = change(client, page, case_id, "closed_no_action")
    assert stale.status_code == 303
    shown = client.get(stale.headers["location"])
    warning = shown.text.split('class="banner warn"')[1].split("</div>")[0]
    assert shown.status_code == 200 and "someone changed it after this page was shown" in warning
    assert client.get(f"/v1/cases/{case_id}").json()["status"] == "contacted"
    assert len(audit.read(redis_client, KEYS)) == len(entries)  # nothing logged as done
    # a change the life cycle forbids (resolved -> contacted) is named, not a 500
    fresh = client.get("/ui/cases").text
    assert change(client, fresh, case_id, "resolved").status_code == 303
    assert client.get(f"/v1/cases/{case_id}").json()["status"] == "resolved"
    version = client.get(f"/v1/cases/{case_id}").json()["version"]
    illegal = client.post(f"/ui/cases/{case_id}/status", data={
        "csrf": csrf_of(fresh), "version": str(version), "status": "contacted"})  # fmt: skip
    assert illegal.status_code == 303 and "not changed" in client.get(
        illegal.headers["location"]).text  # fmt: skip


def test_customer_360_shows_open_cases_and_latest_feedback_per_touchpoint(client):
    post_answers(client, [("c1", 2, "support"), ("c1", 10, "checkout")])
    case_id = client.get("/v1/cases").json()["cases"][0]["case_id"]
    page = client.get("/ui/customers", params={"customer_id": "c1"}).text
    cases = page.split('id="open-cases"')[1].split("</table>")[0]
    assert f'data-case="{case_id}"' in cases and "support" in cases
    feedback = page.split('id="touchpoint-feedback"')[1].split("</table>")[0]
    rows = dict(re.findall(r'data-touchpoint="([^"]+)">.*?class="num">(\d+)<', feedback))
    assert rows == {"checkout": "10", "support": "2"}


def test_cx_and_cases_pages_render_with_a_banner_when_redis_is_down(client, redis_server):
    redis_server.stop()
    try:
        for path in ("/ui/cx", "/ui/cases", "/ui/"):
            page = client.get(path)
            assert page.status_code == 200, (path, page.text[-400:])
            assert re.search(r'class="banner (error|warn)"[^>]*>[^<]*Redis', page.text), path
            assert 'id="cx-empty"' not in page.text  # unknown is not "nothing published"
    finally:
        redis_server.start()
