"""Headless Chromium for browser tests (Debian's /usr/bin/chromium, driven by Playwright).

Every page a browser test opens is checked by axe-core (from npm, node_modules/axe-core,
installed by `make install`): when a page has loaded, axe runs in it and any violation,
of any impact, fails the test at its end with the rule, the page and the elements. The
same run checks that the page is no wider than the window ("horizontal-overflow": at the
phone size a page must not scroll sideways), reported like an axe violation. A
state reached after the load (a dialog opened, a panel shown) is checked by calling the
`axe` fixture's `check(page)`. The `page` fixture comes in two sizes, a 1440×900 desktop
and a 390×844 phone, and every test that uses it runs in both.

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

AXE_SOURCE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# After axe's own source: run it once the page has loaded (in the top frame only; frames
# are checked as part of it) and hand the violations to the test process. The run is
# kept as window.__axeRun so a flush can wait for it.
AXE_RUNNER = """
if (window.top === window && /^https?:$/.test(location.protocol)) {
  window.__axeRun = new Promise((resolve) => {
    window.addEventListener("load", () => {
      setTimeout(() => resolve(window.__portalAxeRun()), 0);
    });
  });
}
window.__portalAxeRun = async () => {
  // No CSSOM preload: axe would copy a stylesheet's @import (Django admin's forms.css has
  // one) into an inline <style>, which the portal's policy refuses. It only feeds the
  // css-orientation-lock rule; the pages lock no orientation.
  const options = { resultTypes: ["violations"], preload: { assets: ["media"] } };
  const results = await axe.run(document, options);
  const violations = results.violations.map((v) => ({
    rule: v.id, impact: v.impact, help: v.help, page: location.href,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + "  " + n.failureSummary),
  }));
  const overflow = window.__portalOverflow();
  if (overflow) { violations.push(overflow); }
  if (violations.length && window.__portalAxeViolation) {
    await window.__portalAxeViolation(violations);
  }
  return violations.length;
};
// Not an axe rule, reported as one: the page is wider than the window (a phone would
// scroll sideways). The layout viewport's width (clientWidth, without a scroll bar) is
// what the page must fit; the elements named are the outermost ones that stick out and
// are not inside a box that scrolls or clips them.
window.__portalOverflow = () => {
  const root = document.documentElement;
  const width = Math.min(window.innerWidth, root.clientWidth);
  if (root.scrollWidth <= width) { return null; }
  const clipped = (element) => {
    for (let e = element.parentElement; e && e !== root; e = e.parentElement) {
      if (getComputedStyle(e).overflowX !== "visible") { return true; }
    }
    return false;
  };
  const name = (e) =>
    e.localName + (e.id ? "#" + e.id : "") + [...e.classList].map((c) => "." + c).join("");
  const describe = (element) => {
    const parts = [];
    for (let e = element; e && e !== document.body && parts.length < 3; e = e.parentElement) {
      parts.unshift(name(e));
    }
    return parts.join(" > ");
  };
  const nodes = [];
  for (const element of document.body.querySelectorAll("*")) {
    const right = element.getBoundingClientRect().right + window.scrollX;
    const parent = element.parentElement;
    const parentRight = parent ? parent.getBoundingClientRect().right + window.scrollX : 0;
    if (right > width + 0.5 && parentRight <= width + 0.5 && !clipped(element)) {
      const beyond = Math.round(right - width);
      nodes.push(describe(element) + "  " + beyond + " px beyond the right edge");
      if (nodes.length === 5) { break; }
    }
  }
  return {
    rule: "horizontal-overflow", impact: "serious", page: location.href,
    help: "The page is " + root.scrollWidth + " px wide in a " + width + " px window",
    nodes: nodes,
  };
};
"""


class AxeWatch:
    """axe-core's violations on every page of the contexts the `browser` fixture made."""

    def __init__(self):
        self.violations = []

    def attach(self, context):
        if not AXE_SOURCE.exists():
            raise RuntimeError(f"axe-core not found at {AXE_SOURCE}: run `make install`")
        context.expose_binding("__portalAxeViolation", self._binding)
        context.add_init_script(AXE_SOURCE.read_text() + AXE_RUNNER)
        return context

    def _binding(self, source, violations):
        self.violations.extend(violations)

    def check(self, page):
        """Run axe now on the page as it is (a state reached after its load)."""
        page.evaluate("() => window.__portalAxeRun()")

    def flush(self):
        for context in list(CSP_WATCH.contexts):
            for page in context.pages:
                # A page closing or navigating has nothing more to say.
                with contextlib.suppress(Exception):
                    page.evaluate("() => window.__axeRun || null")

    def take(self):
        self.flush()
        taken, self.violations = self.violations, []
        return taken


AXE_WATCH = AxeWatch()


def describe_axe(violations):
    lines = []
    for violation in violations:
        lines.append(
            f"{violation['rule']} ({violation['impact']}) on {violation['page']}: "
            f"{violation['help']}"
        )
        lines.extend(f"    {node}" for node in violation["nodes"])
    return "\n".join(lines)


class WatchedBrowser:
    """The Playwright browser, with CSP_WATCH on every context it opens."""

    def __init__(self, browser):
        self._browser = browser

    def new_context(self, **options):
        return AXE_WATCH.attach(CSP_WATCH.attach(self._browser.new_context(**options)))

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
        AXE_WATCH.violations = []
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail the test (not its teardown) when a page it opened broke the policy or axe."""
    result = yield
    if _uses_browser(item):
        violations = CSP_WATCH.take()
        assert not violations, "Content-Security-Policy violations:\n" + "\n".join(
            str(v) for v in violations
        )
        found = AXE_WATCH.take()
        assert not found, "axe-core violations:\n" + describe_axe(found)
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
def axe():
    """The axe watch: `axe.check(page)` checks a state reached after the page loaded."""
    return AXE_WATCH


# The sizes every page is tried at: a desktop and a phone held upright.
VIEWPORTS = {
    "desktop": {"width": 1440, "height": 900},
    "phone": {"width": 390, "height": 844},
}


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request):
    return VIEWPORTS[request.param]


@pytest.fixture
def page(browser, viewport):
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page, viewport):
    """Save a screenshot under var/test-artifacts/ (kept by the test run): `name.png` at
    the desktop size, `name-phone.png` at the phone's, so neither overwrites the other."""
    suffix = "" if viewport == VIEWPORTS["desktop"] else "-phone"

    def take(name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}{suffix}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
