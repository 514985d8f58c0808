"""custodes serve: who may call what, sessions, CSRF, keys, and no raw values anywhere."""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from custodes.server._accounts import set_password
from custodes.workspace import Workspace
from tests.server_office import PASSWORD, SECOND_REQUESTER, Office, make_office

BASE = "https://testserver"


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Office:
    return make_office(tmp_path_factory.mktemp("office"))


@pytest.fixture
def client(office: Office) -> Iterator[TestClient]:
    with TestClient(office.app(), base_url=BASE) as made:
        yield made


def log_in(client: TestClient, actor: str, password: str = PASSWORD) -> str:
    """Log ``actor`` in; the session's CSRF token."""
    answer = client.post("/api/v1/session", json={"actor": actor, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["csrf"])


def _db(office: Office) -> sqlite3.Connection:
    return sqlite3.connect(office.settings.workspace / "custodes.db")


PUBLIC = {
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/lang/{code}"),
    ("GET", "/disclosure"),
    ("GET", "/api/v1/public/disclosure"),
    ("POST", "/api/v1/session"),
}


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """Every route of the API and the pages, by method and path."""
    from custodes.server import _api, _api_access, _api_tables, _console, _pages

    found = []
    routers = (_api.router, _api_access.router, _api_tables.router, _pages.router, _console.router)
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                found += [(m, route.path) for m in sorted(route.methods - {"HEAD"})]
    return found


def test_every_route_but_the_public_ones_refuses_a_caller_not_logged_in(
    client: TestClient,
) -> None:
    routes = _routes(client)
    assert len(routes) > 40
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        url = re.sub(r"\{[^}]+\}", "x1", path)
        answer = client.request(method, url, follow_redirects=False, json={})
        if path.startswith("/api/"):
            assert answer.status_code == 401, (method, path, answer.status_code)
        else:
            assert answer.status_code in (303, 401), (method, path, answer.status_code)
            if answer.status_code == 303:
                assert answer.headers["location"].startswith("/login")
    # ... and a forged or stale cookie is nobody.
    client.cookies.set("custodes_session", "forged", domain="testserver")
    assert client.get("/api/v1/catalog").status_code == 401


def test_public_pages_need_no_login(client: TestClient) -> None:
    assert client.get("/disclosure").status_code == 200
    assert client.get("/api/v1/public/disclosure").json()["authorisations"]
    assert client.get("/api/openapi.json").status_code == 200


def test_a_cookie_request_that_changes_anything_needs_the_csrf_token(client: TestClient) -> None:
    csrf = log_in(client, "steward")
    body = {"code": "health", "name": "Health Commission"}
    assert client.post("/api/v1/catalog/departments", json=body).status_code == 403
    wrong = {"x-csrf-token": "x" + csrf[1:]}
    assert client.post("/api/v1/catalog/departments", json=body, headers=wrong).status_code == 403
    # a page's form without its hidden field
    answer = client.post("/requests/x1/identify", data={}, follow_redirects=False)
    assert answer.status_code == 403
    right = {"x-csrf-token": csrf}
    answer = client.post("/api/v1/catalog/departments", json=body, headers=right)
    assert answer.status_code in (200, 409), answer.text


def test_the_session_cookie_is_secure_httponly_and_strict(client: TestClient) -> None:
    answer = client.post("/api/v1/session", json={"actor": "steward", "password": PASSWORD})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=strict" in cookie
    assert "content-security-policy" in answer.headers


def test_sessions_expire_when_idle_and_end_at_logout(office: Office) -> None:
    with TestClient(office.app(idle=0.3), base_url=BASE) as client:
        log_in(client, "steward")
        assert client.get("/api/v1/catalog").status_code == 200
        time.sleep(0.5)
        assert client.get("/api/v1/catalog").status_code == 401
        csrf = log_in(client, "steward")
        assert client.delete("/api/v1/session", headers={"x-csrf-token": csrf}).status_code == 200
        assert client.get("/api/v1/catalog").status_code == 401


def test_logins_are_rate_limited_per_name(office: Office) -> None:
    with TestClient(office.app(login_attempts=3), base_url=BASE) as client:
        for _ in range(3):
            answer = client.post("/api/v1/session", json={"actor": "auditor", "password": "no"})
            assert answer.status_code == 403
        answer = client.post("/api/v1/session", json={"actor": "auditor", "password": PASSWORD})
        assert answer.status_code == 429
        assert int(answer.headers["retry-after"]) > 0
        # another name is not locked (an address is, past four times as many failures)
        assert client.post(
            "/api/v1/session", json={"actor": "steward", "password": PASSWORD}
        ).status_code == 200  # fmt: skip


def test_an_unknown_name_and_a_wrong_password_get_the_same_answer(client: TestClient) -> None:
    one = client.post("/api/v1/session", json={"actor": "nobody", "password": PASSWORD})
    two = client.post("/api/v1/session", json={"actor": "steward", "password": "wrong one"})
    assert one.status_code == two.status_code == 403
    assert one.json() == two.json()


def test_the_store_holds_an_argon2id_hash_and_a_sealed_key_only(office: Office) -> None:
    with _db(office) as db:
        rows = db.execute("SELECT actor, password_hash, sealed_key FROM web_accounts").fetchall()
    assert rows
    with Workspace(office.settings) as ws:
        seed = ws.actor_key("steward").private_bytes_raw()
    for _, hashed, sealed in rows:
        assert hashed.startswith("$argon2id$")
        assert PASSWORD not in hashed + sealed
        assert seed.hex() not in sealed
        assert seed not in sealed.encode()


def test_an_operator_who_swaps_the_sealed_key_cannot_sign_as_the_actor(office: Office) -> None:
    """An operator with the database seals a key of their own under a password they know:
    the login is refused, since it opens no key the ledger registered for the actor."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from custodes.server import _accounts

    with _db(office) as db:
        saved = db.execute(
            "SELECT password_hash, sealed_key, public_key FROM web_accounts WHERE actor = 'counsel'"
        ).fetchone()
    own = Ed25519PrivateKey.generate()
    salt = b"0123456789abcdef"
    forged = _accounts._seal(own, _accounts._stretch("operator password", salt), salt)
    try:
        with _db(office) as db:
            db.execute(
                "UPDATE web_accounts SET password_hash = ?, sealed_key = ? WHERE actor = 'counsel'",
                (_accounts._HASHER.hash("operator password"), forged),
            )
        with TestClient(office.app(), base_url=BASE) as client:
            answer = client.post(
                "/api/v1/session", json={"actor": "counsel", "password": "operator password"}
            )
            assert answer.status_code == 403
            assert "registered key" in answer.json()["message"]
    finally:
        with _db(office) as db:
            db.execute(
                "UPDATE web_accounts SET password_hash = ?, sealed_key = ?, public_key = ? "
                "WHERE actor = 'counsel'",
                saved,
            )
    with Workspace(office.settings) as ws, pytest.raises(Exception, match="registered key"):
        set_password(ws.store, "counsel", own, "operator password")


def test_api_tokens_are_kept_hashed_work_without_csrf_and_can_be_revoked(
    client: TestClient, office: Office
) -> None:
    csrf = log_in(client, "researcher")
    made = client.post(
        "/api/v1/tokens", json={"label": "script", "days": 7}, headers={"x-csrf-token": csrf}
    ).json()
    token = made["token"]
    with _db(office) as db:
        kept = db.execute("SELECT token_sha256, sealed_key FROM web_tokens").fetchall()
    assert all(token not in a + b for a, b in kept)
    bare = TestClient(client.app, base_url=BASE)
    auth = {"authorization": f"Bearer {token}"}
    assert bare.get("/api/v1/requests", headers=auth).status_code == 200
    answer = bare.post("/api/v1/requests", json={"dataset": "population-register"}, headers=auth)
    assert answer.status_code == 200, answer.text
    revoked = client.delete(f"/api/v1/tokens/{made['id']}", headers={"x-csrf-token": csrf})
    assert revoked.status_code == 200
    assert bare.get("/api/v1/requests", headers=auth).status_code == 401
    assert (
        bare.get("/api/v1/requests", headers={"authorization": "Bearer cst_x"}).status_code == 401
    )


def test_a_requester_cannot_reach_another_requesters_request_or_budget(
    client: TestClient,
) -> None:
    log_in(client, "researcher")
    mine = client.get("/api/v1/requests").json()
    assert mine
    assert {r["requester"] for r in mine} == {"researcher"}
    log_in(client, SECOND_REQUESTER)
    assert client.get("/api/v1/requests").json() == []
    budgets = client.get("/api/v1/dp/population-register/budget").json()["budgets"]
    assert "researcher" not in budgets  # another recipient's budget is not shown
    assert client.get("/api/v1/dp/budget-changes").json() == []
    for request in mine:
        answer = client.get(f"/api/v1/requests/{request['id']}")
        assert answer.status_code in (403, 404), answer.text
        page = client.get(f"/requests/{request['id']}")
        assert page.status_code in (403, 404)
        if request["details"].get("intended_use"):
            assert request["details"]["intended_use"] not in page.text
    csrf = client.get("/api/v1/session").json()["csrf"]
    answer = client.post(
        "/dp",
        data={"csrf": csrf, "sql": 'SELECT COUNT(*) FROM "population-register"', "loss": "1/100",
              "action": "query", "dataset": "population-register"},
    )  # fmt: skip
    assert answer.status_code == 200
    assert "researcher" not in answer.text.split("<main>")[1]


def test_web_actions_are_signed_with_the_actors_own_keys(
    client: TestClient, office: Office
) -> None:
    csrf = log_in(client, "steward")
    answer = client.post(
        "/api/v1/catalog/departments",
        json={"code": "transport", "name": "Transport Bureau"},
        headers={"x-csrf-token": csrf},
    )
    assert answer.status_code == 200, answer.text
    with Workspace(office.settings) as ws:
        assert ws.check_ledger() == []  # every entry signed by its actor's registered key
        ws.export_ledger(office.settings.workspace / "check.jsonl")
    lines = (office.settings.workspace / "check.jsonl").read_text(encoding="utf-8").splitlines()
    text = [line for line in lines if "department" in line and "transport" in line]
    assert text
    assert '"steward"' in text[-1]


def test_no_raw_value_in_pages_answers_or_the_access_log(
    client: TestClient, office: Office, caplog: pytest.LogCaptureFixture
) -> None:
    raw = office.raw_values(("resident_id", "name", "phone", "address"))
    assert len(raw) > 100
    log_in(client, "steward")
    caplog.set_level(logging.INFO, logger="custodes.server")
    shown = []
    for path in ("/catalog", "/datasets/population-register?assess=1", "/requests", "/review",
                 "/dp", "/disclosure", "/api/v1/catalog", "/api/v1/requests"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 200, path
        shown.append(answer.text)
    requests = client.get("/api/v1/requests").json()
    for r in requests:
        shown.append(client.get(f"/requests/{r['id']}").text)
    text = "\n".join(shown)
    leaked = [v for v in raw if v in text]
    assert not leaked, f"{len(leaked)} raw values shown"
    # a value sent in a query string or refused by validation is not echoed or logged
    probe = sorted(raw)[0]
    answer = client.get(f"/disclosure?year=2026&who={probe}")
    assert probe not in answer.text
    answer = client.post("/api/v1/session", json={"actor": [probe], "password": probe})
    assert answer.status_code == 422
    assert probe not in answer.text
    assert "who=" not in caplog.text
    assert probe not in caplog.text


def test_the_interface_speaks_chinese_by_default_and_english_on_request(
    client: TestClient,
) -> None:
    log_in(client, "auditor")
    page = client.get("/catalog").text
    assert "数据目录" in page
    assert 'lang="zh-Hans"' in page
    client.get("/lang/en?next=/catalog")
    page = client.get("/catalog").text
    assert "Departments and datasets" in page
    assert 'lang="en"' in page
    public = TestClient(client.app, base_url=BASE).get("/disclosure").text
    assert "年度信息公开" in public
    assert re.search(r"¥|CN¥|元", public)


def test_openapi_describes_every_api_route(client: TestClient) -> None:
    spec: dict[str, Any] = client.get("/api/openapi.json").json()
    described = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    for method, path in _routes(client):
        if path.startswith("/api/"):
            assert (method, path) in described
    assert not any(p.startswith("/requests") for p in spec["paths"])  # pages are not API


def test_errors_name_the_problem_without_a_trace(client: TestClient) -> None:
    csrf = log_in(client, "steward")
    answer = client.post(
        "/api/v1/fees",
        json={"department": "civil-affairs", "product": "x", "unit": "per_liter", "cap": "1"},
        headers={"x-csrf-token": csrf},
    )
    assert answer.status_code == 400
    assert "per_liter" in answer.json()["message"]
    assert "Traceback" not in answer.text


def test_a_dataset_uploaded_through_the_api_is_registered(
    client: TestClient, tmp_path: Path
) -> None:
    csrf = log_in(client, "steward")
    rows = ["age,sex,zip"] + [f"{20 + i % 50},{'MF'[i % 2]},{10000 + i % 30}" for i in range(300)]
    answer = client.post(
        "/api/v1/catalog/datasets",
        data={"name": "survey", "department": "civil-affairs", "system": "survey"},
        files={"file": ("survey.csv", "\n".join(rows).encode(), "text/csv")},
        headers={"x-csrf-token": csrf},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == 300
    table = {"file": ("survey.csv", "\n".join(rows).encode(), "text/csv")}
    scanned = client.post("/api/v1/scan", files=table, headers={"x-csrf-token": csrf})
    assert scanned.status_code == 200, scanned.text
    assert "grade" in scanned.json()
    assessed = client.post(
        "/api/v1/assess",
        data={"quasi_identifiers": "age, sex"},
        files=table,
        headers={"x-csrf-token": csrf},
    )
    assert assessed.status_code == 200, assessed.text
    assert assessed.json()["quasi_identifiers"] == ["age", "sex"]
    uploads = client.app.state.server.workspace.path / "uploads"  # type: ignore[attr-defined]
    assert len(list(uploads.glob("*.csv"))) == 1  # the registered file, kept
    assert not list(uploads.glob("scratch/*"))  # the scanned and assessed ones, gone
    listed = client.get("/datasets/survey?assess=1")  # its source still there
    assert listed.status_code == 200


def _call(client: TestClient, method: str, url: str, csrf: str, **body: Any) -> dict[str, Any]:
    answer = client.request(method, url, json=body, headers={"x-csrf-token": csrf})
    assert answer.status_code == 200, (url, answer.text)
    found: dict[str, Any] = answer.json()
    return found


def test_the_whole_lifecycle_through_the_api_with_its_refusals(client: TestClient) -> None:
    csrf = log_in(client, "steward")
    fee = _call(client, "POST", "/api/v1/fees", csrf, department="civil-affairs",
                product="county table", unit="per_product", cap="200.00")["id"]  # fmt: skip
    csrf = log_in(client, "pricing-office")
    _call(client, "POST", f"/api/v1/fees/{fee}/approve", csrf, report="cost study")
    csrf = log_in(client, "researcher")
    request = _call(client, "POST", "/api/v1/requests", csrf, dataset="population-register")["id"]
    _call(client, "PUT", f"/api/v1/requests/{request}/objectives", csrf, purpose="commercial",
          sharing_model="file_under_agreement", columns=["sex", "birth_date", "income_band"],
          intended_use="a county study", term_end="2027-06-30", fee_standard=fee)  # fmt: skip
    csrf = log_in(client, "steward")
    _call(client, "POST", f"/api/v1/requests/{request}/identify", csrf)
    plan = (
        'quasi_identifiers = ["sex", "birth_date"]\nsuppression = 0.05\n[hierarchies]\n'
        'sex = "mask:step=1"\nbirth_date = "date:month,year,decade"\n'
        '[[models]]\ntype = "k-anonymity"\nk = 10\n'
    )
    preview = _call(client, "POST", f"/api/v1/requests/{request}/preview", csrf, plan=plan)
    assert preview["risk_after"]["k_anonymity"] >= 10
    assert preview["risk_before"]["k_anonymity"] < 10
    report = _call(client, "POST", f"/api/v1/requests/{request}/prepare", csrf, plan=plan)
    assert report["k_anonymity"] >= 10
    csrf = log_in(client, "researcher")
    _call(client, "POST", f"/api/v1/requests/{request}/submit", csrf)
    # the requester may not decide on its own request
    answer = client.post(
        f"/api/v1/requests/{request}/decisions",
        json={"approve": True, "rationale": "mine"},
        headers={"x-csrf-token": csrf},
    )
    assert answer.status_code == 403
    for reviewer in ("counsel", "privacy-officer"):
        csrf = log_in(client, reviewer)
        _call(client, "POST", f"/api/v1/requests/{request}/decisions", csrf, approve=True,
              rationale="k 10 on two columns")  # fmt: skip
    csrf = log_in(client, "steward")
    _call(client, "POST", f"/api/v1/requests/{request}/release", csrf,
          recipient="Example Analytics Ltd.", terms="DUA-1")  # fmt: skip
    over = client.post(
        f"/api/v1/requests/{request}/charge",
        json={"quantity": "1", "unit_price": "250.00"},
        headers={"x-csrf-token": csrf},
    )
    assert over.status_code in (400, 409)
    assert "cap" in over.json()["message"]
    charged = _call(client, "POST", f"/api/v1/requests/{request}/charge", csrf, quantity="1",
                    unit_price="180.00")  # fmt: skip
    assert charged["amount"] == "180.00"
    public = client.get("/api/v1/public/disclosure").json()
    assert any(a["request"] == request for a in public["authorisations"])


def test_the_estimate_costs_exactly_what_the_query_is_charged(client: TestClient) -> None:
    csrf = log_in(client, "steward")
    change = _call(client, "POST", "/api/v1/dp/population-register/budget-changes", csrf,
                   total="20", recipient="researcher", reason="load")["id"]  # fmt: skip
    for reviewer in ("counsel", "privacy-officer"):
        csrf = log_in(client, reviewer)
        _call(client, "POST", f"/api/v1/dp/budget-changes/{change}/decisions", csrf,
              approve=True, rationale="ok")  # fmt: skip
    csrf = log_in(client, "researcher")
    sql = 'SELECT sex, COUNT(*) FROM "population-register" GROUP BY sex'
    estimate = _call(client, "POST", "/api/v1/dp/estimate", csrf, sql=sql, rho="1/50", exact=True)
    answer = _call(client, "POST", "/api/v1/dp/query", csrf, sql=sql, rho="1/50", exact=True)
    assert estimate["rho_cost"] == answer["rho_spent"] == "1/50"
    assert estimate["aggregates"] == answer["aggregates"]
    page = client.post(
        "/dp",
        data={"csrf": csrf, "sql": sql, "loss": "1/50", "kind": "rho", "action": "estimate",
              "dataset": "population-register"},
    )  # fmt: skip
    assert page.status_code == 200
    assert 'data-rho="1/50"' in page.text


def test_a_revoked_key_ends_the_actors_sessions_and_logins(office: Office) -> None:
    app = office.app()
    with TestClient(app, base_url=BASE) as admin:
        rachel = TestClient(app, base_url=BASE)  # another browser, the same server
        log_in(rachel, SECOND_REQUESTER)
        assert rachel.get("/api/v1/requests").status_code == 200
        csrf = log_in(admin, "admin")
        risk = admin.get("/api/v1/catalog/population-register/risk").json()
        assert risk["k_anonymity"] >= 1
        assert "equivalence_classes" in risk
        revoked = admin.post(
            f"/api/v1/actors/{SECOND_REQUESTER}/revoke-key", headers={"x-csrf-token": csrf}
        )
        assert revoked.status_code == 200, revoked.text
        assert rachel.get("/api/v1/requests").status_code == 401  # the session ended
        answer = rachel.post(
            "/api/v1/session", json={"actor": SECOND_REQUESTER, "password": PASSWORD}
        )
        assert answer.status_code == 403
        assert "registered key" in answer.json()["message"]


def test_the_plan_editor_writes_valid_toml_whatever_the_column_names() -> None:
    import tomllib

    from custodes.server._pages import built_plan

    columns = ['a"b', "c\\d", "年龄", "x]\n[evil]"]
    form = {f"qi:{c}": "on" for c in columns} | {"k": "5", "suppression": "0.02"}
    form |= {f"h:{columns[0]}": 'interval:width=5"\n[x]', "l_attribute": "年龄", "l": "2"}
    plan = tomllib.loads(built_plan(form, columns))
    assert plan["quasi_identifiers"] == columns
    assert plan["hierarchies"][columns[0]] == 'interval:width=5"\n[x]'
    assert plan["models"][0] == {"type": "k-anonymity", "k": 5}
    assert plan["models"][1]["attribute"] == "年龄"
    assert set(plan) == {"quasi_identifiers", "suppression", "hierarchies", "models"}


def test_nobody_uploads_or_posts_a_body_before_logging_in(client: TestClient) -> None:
    """The body is not read (nor spooled to disk) before the caller is known, and its
    length is bounded."""
    big = b"x" * (9 * 1024**2)
    answer = client.post("/api/v1/scan", files={"file": ("a.csv", big, "text/csv")})
    assert answer.status_code == 401
    answer = client.post("/requests", content=b"dataset=x", follow_redirects=False)
    assert answer.status_code == 303
    csrf = log_in(client, "steward")
    answer = client.post(
        "/api/v1/fees", content=big, headers={"x-csrf-token": csrf, "content-type": "text/plain"}
    )
    assert answer.status_code == 413


def test_the_ledger_is_read_whole_by_auditors_only(client: TestClient) -> None:
    log_in(client, "researcher")
    for path in ("/api/v1/ledger/proof/inclusion?entry=1", "/api/v1/ledger/head",
                 "/api/v1/ledger/proof/consistency?old=1", "/api/v1/ledger/export"):  # fmt: skip
        assert client.get(path).status_code == 403, path
    budgets = client.get("/api/v1/dp/population-register/budget").json()["budgets"]
    assert set(budgets) == {"global", "researcher"}  # no other recipient's
    changes = client.get("/api/v1/dp/budget-changes").json()
    assert changes
    assert {c["recipient"] for c in changes} == {"researcher"}
    log_in(client, "auditor")
    assert client.get("/api/v1/ledger/proof/inclusion?entry=1").status_code == 200
    assert (
        client.get("/api/v1/ledger/proof/inclusion?entry=1&size=99999999999999").status_code == 400
    )


def test_a_new_password_ends_sessions_and_tokens(office: Office) -> None:
    app = office.app()
    with TestClient(app, base_url=BASE) as client:
        csrf = log_in(client, "pricing-office")
        token = client.post("/api/v1/tokens", json={}, headers={"x-csrf-token": csrf}).json()
        bearer = {"authorization": f"Bearer {token['token']}"}
        # a token cannot make another
        assert client.post("/api/v1/tokens", json={}, headers=bearer).status_code == 403
        assert [t["id"] for t in client.get("/api/v1/tokens").json()] == [token["id"]]
        with Workspace(office.settings) as ws:
            set_password(ws.store, "pricing-office", ws.actor_key("pricing-office"), PASSWORD)
        assert client.get("/api/v1/fees").status_code == 401  # the session ended
        assert client.get("/api/v1/fees", headers=bearer).status_code == 401


def test_a_plan_from_the_web_names_no_file_of_the_server(client: TestClient) -> None:
    csrf = log_in(client, "steward")
    plan = (
        'quasi_identifiers = ["sex"]\n[hierarchies]\nsex = "/etc/passwd"\n'
        '[[models]]\ntype = "k-anonymity"\nk = 2\n'
    )
    answer = client.post(
        "/api/v1/requests/x1/preview", json={"plan": plan}, headers={"x-csrf-token": csrf}
    )
    assert answer.status_code == 400
    assert "builder" in answer.json()["message"]
    assert "root" not in answer.text
    # and someone who may not prepare cannot leave a plan for the steward
    csrf = log_in(client, "researcher")
    answer = client.post(
        "/api/v1/requests/x1/prepare", json={"plan": plan}, headers={"x-csrf-token": csrf}
    )
    assert answer.status_code == 403
