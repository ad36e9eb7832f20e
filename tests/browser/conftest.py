"""Headless Chromium for browser tests (Debian's /usr/bin/chromium, driven by Playwright).

Every browser test also fails on a Content-Security-Policy violation: each context the
`browser` fixture makes (the `page` fixture's and any a test opens itself) listens for
`securitypolicyviolation` events and for Chromium's "Refused to …" console messages, and
the test fails at its end if any page produced one. A test that provokes a violation on
purpose takes it with `csp_violations.take()`.
"""

import contextlib
import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network: without them Chromium keeps calling home and logs failures.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"

# Runs in every page before its own scripts: violations are handed to the test process
# as they happen (a navigation would lose a list kept in the page) and also kept in
# window.__cspViolations for a test that wants to look.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const violation = {
    directive: event.effectiveDirective || event.violatedDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
    page: document.location.href,
  };
  window.__cspViolations.push(violation);
  if (window.__portalCspViolation) { window.__portalCspViolation(violation); }
}, true);
"""


class CspWatch:
    """The CSP violations seen in the contexts the `browser` fixture made, test by test."""

    def __init__(self):
        self.violations = []
        self.contexts = []

    def attach(self, context):
        context.expose_binding("__portalCspViolation", self._binding)
        context.add_init_script(CSP_LISTENER)
        context.on("page", self._watch_console)
        context.on("close", lambda closed: self.contexts.remove(closed))
        self.contexts.append(context)
        return context

    def _binding(self, source, violation):
        self.violations.append(violation)

    def _watch_console(self, page):
        def console(message):
            text = message.text
            if "Content Security Policy" in text and text.startswith("Refused"):
                self.violations.append({"console": text, "page": page.url})

        page.on("console", console)

    def flush(self):
        """Let every open page deliver what it has seen (events arrive between calls)."""
        for context in list(self.contexts):
            for page in context.pages:
                # A page closing or navigating holds nothing more to deliver.
                with contextlib.suppress(Exception):
                    page.evaluate("() => (window.__cspViolations || []).length")

    def take(self):
        self.flush()
        taken, self.violations = self.violations, []
        return taken


CSP_WATCH = CspWatch()


class WatchedBrowser:
    """The Playwright browser, with CSP_WATCH on every context it opens."""

    def __init__(self, browser):
        self._browser = browser

    def new_context(self, **options):
        return CSP_WATCH.attach(self._browser.new_context(**options))

    def new_page(self, **options):
        context = self.new_context(**options)
        page = context.new_page()
        # As Playwright's own new_page: the page owns its context.
        page.on("close", lambda _: context.close())
        return page

    def __getattr__(self, name):
        return getattr(self._browser, name)


def _uses_browser(item):
    return "browser" in getattr(item, "fixturenames", ())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    if _uses_browser(item):
        CSP_WATCH.violations = []
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail the test (not its teardown) when a page it opened broke the policy."""
    result = yield
    if _uses_browser(item):
        violations = CSP_WATCH.take()
        assert not violations, "Content-Security-Policy violations:\n" + "\n".join(
            str(v) for v in violations
        )
    return result


@pytest.fixture
def csp_violations():
    """The violation watch, for a test that provokes one on purpose (`.take()` them)."""
    return CSP_WATCH


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls that tests
    # make to set up data are still plain synchronous calls.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield WatchedBrowser(browser)
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    """Save a screenshot under var/test-artifacts/ (kept by the test run)."""

    def take(name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
