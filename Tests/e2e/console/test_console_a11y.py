"""Accessibility of the sign-in and Chat pages (issue 12 §4–§5): axe-core 4.12 (bundled by axe-playwright-python,
injected without any network) finds no serious or critical violation, in light and dark (`prefers-color-scheme`),
at 390 px and 1440 px wide; at 390 px the page does not scroll sideways."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from conftest import rand_phone
from inbound_helpers import open_sandbox_conversation, sandbox_inbound

from .conftest import DESKTOP, MOBILE
from .helpers import api_sign_in, make_agent, no_horizontal_scroll, open_chat, open_conversation, row

GATE = ("serious", "critical")
SCHEMES = ["light", "dark"]
VIEWPORTS = {"390": MOBILE, "1440": DESKTOP}

_axe = Axe()


def violations(page) -> list[str]:
    """The serious and critical axe violations of the page as it is now, each with up to 5 offending elements."""
    found = _axe.run(page).response.get("violations", [])
    return [f"{v['id']} ({v['impact']}): {v['help']} at " + "; ".join(" ".join(map(str, n["target"]))
                                                                   for n in v["nodes"][:5])
            for v in found if v.get("impact") in GATE]


@pytest.fixture(scope="module")
def chat_data(cluster):
    """One organisation with a few conversations (an unread one with Arabic text and emoji, an open one) and an
    agent, shared by the module's page checks."""
    org = cluster.create_org()
    agent = make_agent(org, name="Alex Agent")
    opened = open_sandbox_conversation(org, name="Ana Souza", text="Olá! Meu pedido chegou? 📦")
    sandbox_inbound(org, "مرحبا، هل يمكنك مساعدتي؟ 🙏", phone=rand_phone(), name="فاطمة الزهراء")
    sandbox_inbound(org, "नमस्ते! Order #4521 status?", phone=rand_phone(), name="Rahul Sharma")
    return org, agent, opened


def each_look(page):
    """Yields (label) once per width and colour scheme, the page resized and re-emulated in place (a reload is not
    needed: the layout and `prefers-color-scheme` follow at once)."""
    for width, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (scheme == "dark")
            yield width, f"{width} px, {scheme}"


def check(page, width: str, label: str, what: str, failures: list[str]) -> None:
    failures += [f"{what} at {label}: {v}" for v in violations(page)]
    if width == "390":
        ok, sw, iw = no_horizontal_scroll(page)
        if not ok:
            failures.append(f"{what} at {label} scrolls sideways ({sw} px of content in {iw} px)")


def test_sign_in_page_has_no_serious_violations(page, watch):
    watch.allow(401, "/api/auth/session", "GET")
    page.goto("/signin")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    failures: list[str] = []
    for width, label in each_look(page):
        check(page, width, label, "the sign-in page", failures)
    assert failures == [], "\n".join(failures)


def test_chat_page_has_no_serious_violations(page, context, chat_data):
    org, agent, opened = chat_data
    api_sign_in(context, agent)
    open_chat(page)
    expect(row(page, opened["id"])).to_be_visible()
    failures: list[str] = []
    for width, label in each_look(page):
        check(page, width, label, "the conversation list", failures)
    open_conversation(page, opened["id"], "Ana Souza")
    for width, label in each_look(page):
        check(page, width, label, "an open conversation", failures)
    assert failures == [], "\n".join(failures)
