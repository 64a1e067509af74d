"""The page watch itself (helpers.Watch) catches what it promises to, on pages served by the test: otherwise every
console test would pass whatever the console logs. Each kind of problem is provoked once and must be reported;
a failure declared expected must not be."""

from __future__ import annotations

import socket

import pytest

from .helpers import AttackerSite

# The console's policy (CONSOLE.md 4.6), Trusted Types included.
STRICT_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
              "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; "
              "trusted-types 'none'")


@pytest.fixture
def site():
    s = AttackerSite(host="127.0.0.1")
    yield s
    s.close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def load(page, watch, site, path, html, csp=True):
    url = site.add(path, html, {"Content-Security-Policy": STRICT_CSP} if csp else {})
    page.goto(url)
    page.wait_for_load_state("load")
    watch.drain()


def take(watch) -> list[str]:
    """The problems seen so far (and forgets them, so the test itself passes once it has checked them)."""
    found, watch.problems[:] = list(watch.problems), []
    return found


def test_watch_reports_console_errors_and_uncaught_errors(page, watch, site):
    site.add("/app.js", "console.error('deliberate'); setTimeout(() => { throw new Error('boom'); }, 0);",
             {"Content-Type": "text/javascript"})
    load(page, watch, site, "/", '<!doctype html><title>t</title><script src="/app.js"></script>')
    page.wait_for_function("1")
    watch.drain()
    found = take(watch)
    assert any("console error: deliberate" in p for p in found), found
    assert any("uncaught error" in p and "boom" in p for p in found), found


def test_watch_reports_csp_violations_inline_script_and_trusted_types(page, watch, site):
    site.add("/tt.js", "document.body.innerHTML = '<b>x</b>';", {"Content-Type": "text/javascript"})
    load(page, watch, site, "/", '<!doctype html><title>t</title><body><script>document.title="inline ran"</script>'
                                 '<script src="/tt.js"></script></body>')
    assert page.title() == "t", "the inline script ran: the CSP was not applied"
    found = take(watch)
    csp = [p for p in found if p.startswith("CSP violation")]
    assert any("script-src" in p for p in csp), found
    assert any("require-trusted-types-for" in p for p in csp), found


def test_watch_reports_http_errors_and_failed_requests_unless_declared(page, watch, site):
    port = closed_port()
    site.add("/app.js", f"fetch('/missing.json'); fetch('/expected.json'); "
                        f"fetch('http://127.0.0.1:{port}/x').catch(() => {{}});",
             {"Content-Type": "text/javascript"})
    watch.allow(404, "/expected.json", "GET")
    load(page, watch, site, "/", '<!doctype html><title>t</title><script src="/app.js"></script>', csp=False)
    page.wait_for_function("1")
    page.wait_for_timeout(300)  # the refused connection is reported asynchronously
    found = take(watch)
    assert any("HTTP 404" in p and "/missing.json" in p for p in found), found
    assert not any("/expected.json" in p for p in found), found
    assert any("request failed" in p and str(port) in p for p in found), found
    assert watch.statuses("/expected.json") == [404]
