"""The interface in a real browser (Debian's Chromium, driven by Playwright): the whole
lifecycle by six logged-in users, with screenshots of each page as test artifacts."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server_office import PASSWORD, Office, make_office

pytestmark = pytest.mark.slow

ARTIFACTS = Path(
    os.environ.get("CUSTODES_ARTIFACTS")
    or Path(__file__).resolve().parents[1] / "build" / "screenshots"
)


def chromium() -> str:
    """Debian's Chromium; skipped without it (failed in CI, where make test installs it)."""
    found = os.environ.get("CUSTODES_CHROMIUM") or shutil.which("chromium")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing; make test installs it with apt-get (as root)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Office:
    return make_office(tmp_path_factory.mktemp("browser-office"))


@pytest.fixture(scope="module")
def live(office: Office) -> Iterator[str]:
    """The server on a free loopback port, in a thread of this process."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(office.app(), host="127.0.0.1", port=port, log_level="warning",
                       access_log=False, lifespan="off")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield launched
        launched.close()


class User:
    """One person at a browser of their own (cookies of their own), logged in."""

    def __init__(self, browser: Any, base: str, actor: str | None) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.base = base
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: self.problems.append(m.text) if m.type == "error" else None,
        )
        if actor is not None:
            self.go("/login")
            self.page.fill("input[name=actor]", actor)
            self.page.fill("input[name=password]", PASSWORD)
            self.page.click("form.card button[type=submit]")
            assert self.page.locator("#actor").inner_text() == actor

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def note(self) -> str:
        return str(self.page.locator(".note").first.inner_text())

    def state(self) -> str:
        return str(self.page.locator("#state").get_attribute("data-state"))


def test_the_lifecycle_by_six_users_in_the_browser(browser: Any, live: str) -> None:
    steward = User(browser, live, "steward")
    steward.go("/catalog")
    assert "population-register" in steward.page.content()
    assert "Civil Affairs Bureau" in steward.page.content()
    steward.shot("catalog")
    steward.go("/datasets/population-register")
    steward.page.click("#assess")
    assert steward.page.locator("#k").inner_text() != ""
    assert steward.page.locator("svg.chart").count() == 4
    steward.shot("dataset-risk")

    # a fee standard: proposed by the steward, approved by the pricing authority
    steward.go("/fees")
    form = steward.page.locator("#new-fee")
    form.locator("input[name=product]").fill("county table")
    form.locator("input[name=cap]").fill("300")
    form.locator("button").click()
    assert steward.note().startswith("✓")
    pricing = User(browser, live, "pricing-office")
    pricing.go("/fees")
    row = pricing.page.locator("#standards tr", has_text="county table")
    row.locator("input[name=report]").fill("cost-based pricing study")
    row.locator("button").click()
    assert pricing.note().startswith("✓")
    pricing.shot("fees")

    # the requester files a request
    researcher = User(browser, live, "researcher")
    researcher.go("/requests")
    form = researcher.page.locator("#new-request")
    form.locator("select[name=purpose]").select_option("commercial")
    form.locator("select[name=sharing_model]").select_option("file_under_agreement")
    form.locator("input[name=columns]").fill("sex, birth_date, income_band")
    form.locator("textarea[name=intended_use]").fill("benefits by county, a market study")
    form.locator("input[name=term_end]").fill("2027-06-30")
    form.locator("select[name=fee_standard]").select_option(label="county table (¥300.00)")
    researcher.shot("request-form")
    form.locator("button[type=submit]").click()
    request = researcher.page.url.rsplit("/", 1)[-1]
    assert researcher.state() == "objectives_set"

    # the steward identifies, previews the plan and prepares
    steward.go(f"/requests/{request}")
    steward.page.click("#identify")
    assert steward.state() == "identifiers_identified"
    builder = steward.page.locator("#plan-builder")
    assert builder.locator("input[name='qi:sex']").is_checked()
    builder.locator("input[name=suppression]").fill("0.05")
    builder.locator("input[name=k]").fill("10")
    steward.page.click("#build-plan")
    plan = steward.page.locator("#plan").input_value()
    assert 'birth_date" = "date:month,year,decade"' in plan
    assert "k = 10" in plan
    steward.page.click("#preview")
    assert steward.page.locator("#preview-result").is_visible()
    steward.shot("plan-editor")
    steward.page.click("#prepare")
    assert steward.state() == "processed", steward.note()

    # the requester submits, and may not approve its own request
    researcher.go(f"/requests/{request}")
    researcher.page.click("#submit")
    assert researcher.state() == "under_review"
    researcher.page.fill("textarea[name=rationale]", "I approve my own request")
    researcher.page.click("#approve")
    assert researcher.note().startswith("✗")
    assert researcher.state() == "under_review"
    researcher.shot("self-approval-refused")

    # two reviewers approve
    for name in ("counsel", "privacy-officer"):
        reviewer = User(browser, live, name)
        reviewer.go("/review")
        reviewer.page.click(f"#queue a:text('{request}')")
        if name == "counsel":
            reviewer.shot("review")
        reviewer.page.fill("textarea[name=rationale]", "k 10 on two columns; DUA signed")
        reviewer.page.click("#approve")
        assert reviewer.note().startswith("✓"), reviewer.note()
    steward.go(f"/requests/{request}")
    assert steward.state() == "approved"

    # released; a price above the cap is refused, one within it charged
    steward.page.fill("#release input[name=terms]", "data use agreement DUA-2026-101")
    steward.page.click("#do-release")
    assert steward.state() == "released", steward.note()
    steward.page.fill("#charge input[name=unit_price]", "350.00")
    steward.page.click("#do-charge")
    assert steward.note().startswith("✗")
    assert "cap" in steward.note()
    steward.shot("over-cap-refused")
    steward.page.fill("#charge input[name=unit_price]", "280.00")
    steward.page.click("#do-charge")
    assert steward.note().startswith("✓")

    # the DP console: the estimate, then the answer
    researcher.go("/dp")
    researcher.page.fill("#sql", 'SELECT sex, COUNT(*) FROM "population-register" GROUP BY sex')
    researcher.page.fill("#loss", "1/100")
    researcher.page.click("#estimate")
    assert researcher.page.locator("#rho_cost").get_attribute("data-rho") == "1/100"
    researcher.page.fill("#loss", "1/100")
    researcher.page.click("#run")
    assert researcher.page.locator("#answer tbody tr").count() == 2
    researcher.shot("dp-console")
    researcher.page.fill("#loss", "1/100")
    researcher.page.click("#estimate")
    researcher.shot("dp-estimate")

    # the auditor's dashboard, and the public page without a login
    auditor = User(browser, live, "auditor")
    auditor.go("/audit")
    assert auditor.page.locator("#verified").is_visible()
    auditor.shot("audit")
    public = User(browser, live, None)
    public.go("/disclosure")
    assert request in public.page.locator("#authorisations").inner_text()
    public.shot("disclosure")
    public.go("/lang/en?next=/disclosure")
    assert "Annual disclosure" in public.page.content()
    public.shot("disclosure-en")

    for user in (steward, pricing, researcher, auditor, public):
        assert not user.problems, user.problems  # no script error, no CSP violation
