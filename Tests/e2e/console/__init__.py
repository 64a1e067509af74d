"""Browser tests of the agent console (headless Debian Chromium driven by Playwright); see conftest.py.

A package, so that this folder's conftest.py and helpers are imported as `console.*` and never shadow
Tests/e2e/conftest.py, which every test module imports as `conftest`."""
