"""Fixtures of the console's browser tests: one headless Debian Chromium for the whole session (pytest-playwright,
with `executable_path`; no `playwright install`), a fresh browser context per test whose pages are all watched
(helpers.Watch: a console error, an uncaught error, a CSP violation, a failed request or an HTTP status >= 400 that
the test did not declare expected fails the test), and agents with passwords in the test's own organisation.

They run against the session's cluster (Tests/e2e/conftest.py) like every other black-box test:
    SWITCHBOARD_BIN_DIR=$(swift build --show-bin-path) .venv/bin/pytest Tests/e2e/console -q -p no:cacheprovider
"""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from .helpers import UI_TIMEOUT, Watch, api_sign_in, make_agent, open_chat

expect.set_options(timeout=UI_TIMEOUT)

DESKTOP = {"width": 1440, "height": 900}
MOBILE = {"width": 390, "height": 844}


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("chromium is not installed: run scripts/setup-test-env (Debian's chromium package)")
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's chromium (Playwright's own browser builds cannot be downloaded here). Debian's wrapper script adds
    --disable-dev-shm-usage only after a check that breaks on this machine, so it is passed here; the resolver
    rule keeps every name off the network except the two loopback addresses the tests use (127.0.0.2 is the
    "attacker" site)."""
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path(),
        "args": [
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE 127.0.0.2",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(cluster):
    """Every context: the cluster as base URL (`page.goto("/chat")`), US English; the viewport is the `context` /
    `make_context` fixtures' (desktop unless asked). The plugin's own defaults (devices, video, pytest-base-url)
    are not used."""
    return {"base_url": cluster.base_url, "locale": "en-US"}


@pytest.fixture
def watch():
    w = Watch()
    yield w
    w.close()


@pytest.fixture
def context(new_context, watch):
    ctx = new_context(viewport=DESKTOP)
    watch.attach_context(ctx)
    return ctx


@pytest.fixture
def page(context, watch):
    p = context.new_page()
    if p not in watch.pages:
        watch.attach_page(p)
    return p


@pytest.fixture
def make_context(new_context, watch):
    """Another watched browser context (another person, another viewport or colour scheme)."""

    def make(**kwargs):
        ctx = new_context(**{"viewport": DESKTOP, **kwargs})
        watch.attach_context(ctx)
        return ctx

    return make


@pytest.fixture
def agent(org):
    """An agent (role `agent`) of the test's organisation, with a password."""
    return make_agent(org, name="Alex Agent")


@pytest.fixture
def chat(page, context, agent):
    """`page` signed in as `agent` (without the form) on the Chat page, its stream live."""
    api_sign_in(context, agent)
    open_chat(page)
    return page


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test that passed still fails when its pages saw a problem it did not declare expected; a test that failed
    gets those problems attached to its report."""
    watch = item.funcargs.get("watch") if hasattr(item, "funcargs") else None
    try:
        result = yield
    except BaseException:
        if isinstance(watch, Watch):
            watch.drain()
            if watch.problems:
                item.add_report_section("call", "browser problems", "\n".join(watch.problems))
        raise
    if isinstance(watch, Watch):
        watch.check()
    return result
