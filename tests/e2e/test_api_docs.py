"""The API's docs page in a real browser: Swagger UI renders from our own
static files under the strict CSP and asks no other origin for anything."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_api_docs_render_from_our_own_origin_only(live_server, page: Page):
    origin = urlsplit(live_server.url).netloc
    requested: list[str] = []
    console_errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "console",
        lambda message: console_errors.append(message.text) if message.type == "error" else None,
    )

    page.goto(f"{live_server.url}/api/v1/docs")

    expect(page.get_by_text("Report a repair")).to_be_visible()
    expect(page.get_by_text("Add a photo to a request")).to_be_visible()
    page.wait_for_load_state("networkidle")
    foreign = [
        url
        for url in requested
        if urlsplit(url).scheme in {"http", "https"} and urlsplit(url).netloc != origin
    ]
    assert foreign == []
    assert f"{live_server.url}/api/v1/openapi.json" in requested
    # A CSP violation (inline script or style, eval) would show up here.
    assert console_errors == []
