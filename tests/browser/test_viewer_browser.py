"""The exam page's capture viewer in a real browser, at the desktop and the phone size:
fit to the screen, zoom (button, key, wheel around the pointer), pan (drag, keys),
next/previous with the capture's label, brightness, and clips (play, pause, frame steps,
speed, scrubber)."""

import io

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import expect

from clarius_sandbox import imaging
from clarius_sandbox.video import encode_clip
from portal import storage
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_login_browser import log_in
from tests.factories import add_stored_capture, make_exam
from tests.reports.conftest import add_jpeg_captures

pytestmark = pytest.mark.django_db(transaction=True)

CLIP_FRAMES = 45  # 3 s at the sandbox's 15 frames a second
DEFAULT_FPS = 30  # the viewer's frame step when a capture does not say its frame rate


def add_bmode_image(exam):
    """A 640×480 B-mode picture such as a probe takes (the sandbox draws it)."""
    jpeg = imaging.encode_jpeg(imaging.bmode_image(3))
    return add_stored_capture(exam, "image/jpeg", jpeg, width=imaging.WIDTH, height=imaging.HEIGHT)


def add_clip(exam, frames=CLIP_FRAMES):
    """A playable H.264 clip, stored as the ingestion stores one."""
    return add_stored_capture(exam, "video/mp4", encode_clip(2, frames=frames))


@pytest.fixture
def exam(settings, tmp_path, bob, northside, monkeypatch):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    exam = make_exam(northside, bob, patient_name="Nora North", captures=0)
    add_bmode_image(exam)
    add_jpeg_captures(exam, 1)
    add_clip(exam)
    return exam


def open_exam(page, live_server, exam):
    log_in(page, live_server, "bob@example.org")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")


def open_image(page, nth=0):
    page.click(f'.gallery a[data-kind="image"] >> nth={nth}')
    page.wait_for_function(
        "() => { const i = document.querySelector('#capture-viewer img');"
        " return !i.hidden && i.complete && i.naturalWidth > 0; }"
    )


def settle(page):
    """Panzoom applies a zoom or pan in the next animation frame: wait for it."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def box(page, selector):
    settle(page)
    return page.locator(selector).bounding_box()


def scale(page):
    settle(page)
    return page.locator("#capture-viewer .viewer-pan").evaluate(
        "e => e.getBoundingClientRect().width / e.parentElement.getBoundingClientRect().width"
    )


def no_horizontal_overflow(page):
    """Nothing in the open viewer is wider than the window or its own box."""
    return page.evaluate(
        "() => { const d = document.querySelector('#capture-viewer');"
        " return d.getBoundingClientRect().right <= window.innerWidth"
        " && d.scrollWidth <= d.clientWidth"
        " && [...d.querySelectorAll('*')].every(e => e.getBoundingClientRect().right"
        " <= window.innerWidth + 0.5); }"
    )


def mean_brightness(page):
    shot = page.locator("#capture-viewer .viewer-stage").screenshot()
    return sum(ImageStat.Stat(Image.open(io.BytesIO(shot)).convert("L")).mean)


def test_an_image_opens_fit_to_the_screen_and_zooms_and_pans(
    page, live_server, bob, exam, axe, viewport
):
    open_exam(page, live_server, exam)
    opener = page.locator('.gallery a[data-kind="image"]').first
    open_image(page)
    axe.check(page)
    assert no_horizontal_overflow(page)
    dialog = box(page, "#capture-viewer")
    stage = box(page, "#capture-viewer .viewer-stage")
    assert page.locator("#capture-viewer").evaluate("d => d.open")

    # Fit: the picture (object-fit inside the stage) is as large as the stage allows.
    natural = page.locator("#capture-viewer img").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    fit = min(stage["width"] / natural[0], stage["height"] / natural[1])
    shown = (natural[0] * fit, natural[1] * fit)
    assert dialog["x"] <= stage["x"] <= dialog["x"] + dialog["width"] - stage["width"]
    assert dialog["y"] <= stage["y"] <= dialog["y"] + dialog["height"] - stage["height"]
    if viewport["width"] > 1000:
        assert shown[0] > 640 and shown[1] > 480
        # For the README: the viewer as a reviewer sees it (the window, not the whole page).
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "viewer.png"))
    else:
        assert shown[0] >= viewport["width"] - 40
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "viewer-phone.png"))
    assert scale(page) == pytest.approx(1)

    # Zoom by button and by key, around the middle of the stage.
    page.click('#capture-viewer [data-viewer="zoom-in"]')
    assert scale(page) == pytest.approx(1.5, rel=0.01)
    zoomed = box(page, "#capture-viewer .viewer-pan")
    middle = stage["x"] + stage["width"] / 2
    assert zoomed["x"] + zoomed["width"] / 2 == pytest.approx(middle, abs=2)
    assert page.locator('#capture-viewer [data-viewer="zoom"]').inner_text() == "150%"
    page.keyboard.press("0")
    assert scale(page) == pytest.approx(1)
    page.keyboard.press("+")
    assert scale(page) == pytest.approx(1.5, rel=0.01)
    page.keyboard.press("-")
    assert scale(page) == pytest.approx(1)

    # The wheel zooms around the pointer: the spot under it stays under it.
    x, y = stage["x"] + stage["width"] * 0.3, stage["y"] + stage["height"] * 0.35
    before = box(page, "#capture-viewer .viewer-pan")
    spot = ((x - before["x"]) / before["width"], (y - before["y"]) / before["height"])
    page.mouse.move(x, y)
    for _ in range(3):
        page.mouse.wheel(0, -100)
        page.wait_for_timeout(50)
    page.wait_for_function("() => document.querySelector('.viewer-pan').style.transform")
    after = box(page, "#capture-viewer .viewer-pan")
    assert scale(page) > 1.3
    assert after["x"] + spot[0] * after["width"] == pytest.approx(x, abs=3)
    assert after["y"] + spot[1] * after["height"] == pytest.approx(y, abs=3)

    # Dragging pans the zoomed picture by as much as the pointer moved.
    centre = (stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
    page.mouse.move(*centre)
    page.mouse.down()
    page.mouse.move(centre[0] + 40, centre[1] + 30, steps=5)
    page.mouse.up()
    dragged = box(page, "#capture-viewer .viewer-pan")
    assert dragged["x"] - after["x"] == pytest.approx(40, abs=3)
    assert dragged["y"] - after["y"] == pytest.approx(30, abs=3)

    # Arrow keys pan while zoomed (and do not change the capture).
    transform = page.locator("#capture-viewer .viewer-pan").evaluate("e => e.style.transform")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "t => document.querySelector('#capture-viewer .viewer-pan').style.transform !== t",
        arg=transform,
    )
    keyed = box(page, "#capture-viewer .viewer-pan")
    assert keyed["x"] < dragged["x"] - 5
    assert "Image 1 of 3" in page.locator("#viewer-title").inner_text()
    axe.check(page)

    # Escape closes, and the focus is back on the thumbnail that opened the viewer.
    page.keyboard.press("Escape")
    assert not page.locator("#capture-viewer").is_visible()
    assert opener.evaluate("a => a === document.activeElement")


def test_next_and_previous_show_each_capture_with_its_label_and_brightness_changes_pixels(
    page, live_server, bob, exam, axe
):
    open_exam(page, live_server, exam)
    open_image(page)
    title = page.locator("#viewer-title")
    captions = page.locator(".gallery .caption").all_inner_texts()
    assert captions[0] == "1 · image · 640×480"
    assert title.inner_text() == f"Image 1 of 3 · {captions[0]}"
    assert page.locator('#capture-viewer [data-viewer="previous"]').is_disabled()
    page.keyboard.press("ArrowRight")
    assert title.inner_text() == f"Image 2 of 3 · {captions[1]}"
    page.wait_for_function(
        "() => document.querySelector('#capture-viewer img').src.includes('/captures/')"
        " && document.querySelector('#capture-viewer img').complete"
    )
    page.click('#capture-viewer [data-viewer="next"]')
    assert title.inner_text() == f"Clip 3 of 3 · {captions[2]}"
    assert page.locator("#capture-viewer video").is_visible()
    assert page.locator('#capture-viewer [data-viewer="next"]').is_disabled()
    page.click('#capture-viewer [data-viewer="previous"]')
    assert title.inner_text().startswith("Image 2 of 3")
    assert page.locator("#capture-viewer video").is_hidden()
    page.wait_for_function("() => document.querySelector('#capture-viewer img').naturalWidth > 0")

    # Brightness: a CSS filter, so the rendered pixels change (and reset restores them).
    plain = mean_brightness(page)
    brightness = page.locator('#capture-viewer [data-viewer="brightness"]')
    brightness.focus()
    page.keyboard.press("End")
    assert brightness.input_value() == "300"
    brighter = mean_brightness(page)
    assert brighter > plain * 1.5
    # Arrow keys belong to the slider while it has the focus: still image 2.
    page.keyboard.press("ArrowLeft")
    assert title.inner_text().startswith("Image 2 of 3")
    page.click('#capture-viewer [data-viewer="reset-adjust"]')
    assert mean_brightness(page) == pytest.approx(plain, rel=0.05)
    axe.check(page)


def test_a_clip_plays_pauses_steps_frames_changes_speed_and_seeks(
    page, live_server, bob, exam, axe, viewport
):
    open_exam(page, live_server, exam)
    page.click('.gallery a[data-kind="clip"]')
    video = page.locator("#capture-viewer video")
    page.wait_for_function(
        "() => { const v = document.querySelector('#capture-viewer video');"
        " return v.readyState >= 2 && v.duration > 2; }"
    )
    assert no_horizontal_overflow(page)
    axe.check(page)
    assert page.locator("#viewer-title").inner_text().startswith("Clip 3 of 3")

    play = page.locator('#capture-viewer [data-viewer="play"]')
    play.click()
    page.wait_for_function(
        "() => document.querySelector('#capture-viewer video').currentTime > 0.2"
    )
    # The label follows the video's play/pause events, which arrive a moment later.
    expect(play).to_have_text("Pause")
    page.locator("#capture-viewer .viewer-stage").focus()
    page.keyboard.press("k")
    assert video.evaluate("v => v.paused")
    expect(play).to_have_text("Play")

    # Frame steps of 1/fps (the capture gives no frame rate: 30 a second).
    start = video.evaluate("v => v.currentTime")
    page.keyboard.press(".")
    assert video.evaluate("v => v.currentTime") == pytest.approx(start + 1 / DEFAULT_FPS, abs=1e-3)
    page.keyboard.press(".")
    page.keyboard.press(",")
    assert video.evaluate("v => v.currentTime") == pytest.approx(start + 1 / DEFAULT_FPS, abs=1e-3)
    page.keyboard.press(",")
    assert video.evaluate("v => v.currentTime") == pytest.approx(start, abs=1e-3)
    page.keyboard.press(" ")
    page.wait_for_function("() => !document.querySelector('#capture-viewer video').paused")
    page.keyboard.press(" ")
    assert video.evaluate("v => v.paused")

    # Speed 2×: the clip's clock runs about twice as fast as the page's.
    page.select_option('#capture-viewer [data-viewer="speed"]', "2")
    assert video.evaluate("v => v.playbackRate") == 2
    video.evaluate("v => { v.currentTime = 0; }")
    rate = video.evaluate(
        """async v => {
            await v.play();
            await new Promise(r => setTimeout(r, 150));
            const t0 = v.currentTime, w0 = performance.now();
            await new Promise(r => setTimeout(r, 600));
            const rate = (v.currentTime - t0) / ((performance.now() - w0) / 1000);
            v.pause();
            return rate;
        }"""
    )
    assert 1.4 < rate < 2.6

    # The scrubber seeks.
    assert video.evaluate("v => v.paused")
    scrubber = page.locator('#capture-viewer [data-viewer="scrubber"]')
    assert float(scrubber.get_attribute("max") or scrubber.evaluate("s => s.max")) > 2
    scrubber.evaluate(
        "s => { s.value = '1.5'; s.dispatchEvent(new Event('input', { bubbles: true })); }"
    )
    page.wait_for_function(
        "() => Math.abs(document.querySelector('#capture-viewer video').currentTime - 1.5) < 0.01"
    )
    shown = page.locator('#capture-viewer [data-viewer="time"]').inner_text()
    assert float(shown.split(" s")[0]) == pytest.approx(1.5, abs=0.05)
    assert float(scrubber.input_value()) == pytest.approx(1.5, abs=0.05)

    size = "desktop" if viewport["width"] > 1000 else "phone"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"viewer-clip-{size}.png"))

    # Zoom works on a clip as on an image.
    page.click('#capture-viewer [data-viewer="zoom-in"]')
    assert scale(page) == pytest.approx(1.5, rel=0.01)
    axe.check(page)
    page.click('#capture-viewer [data-viewer="close"]')
    assert video.evaluate("v => v.paused && !v.getAttribute('src')")


def test_full_screen_and_on_a_phone_a_swipe_changes_the_capture(
    page, live_server, bob, exam, axe, viewport
):
    open_exam(page, live_server, exam)
    open_image(page)
    title = page.locator("#viewer-title")
    full = page.locator('#capture-viewer [data-viewer="fullscreen"]')
    full.click()
    page.wait_for_function(
        "() => document.querySelector('[data-viewer=fullscreen]')"
        ".getAttribute('aria-pressed') === 'true'"
    )
    dialog = box(page, "#capture-viewer")
    width, height = page.evaluate("() => [window.innerWidth, window.innerHeight]")
    assert dialog["x"] == pytest.approx(0, abs=1) and dialog["y"] == pytest.approx(0, abs=1)
    assert dialog["width"] == pytest.approx(width, abs=1)
    assert dialog["height"] == pytest.approx(height, abs=1)
    axe.check(page)
    full.click()
    page.wait_for_function(
        "() => document.querySelector('[data-viewer=fullscreen]')"
        ".getAttribute('aria-pressed') === 'false'"
    )

    stage = box(page, "#capture-viewer .viewer-stage")
    y = stage["y"] + stage["height"] / 2
    right, left = stage["x"] + stage["width"] * 0.8, stage["x"] + stage["width"] * 0.2
    if viewport["width"] > 1000:
        # A mouse drag of a picture that is not zoomed in moves nothing.
        page.mouse.move(right, y)
        page.mouse.down()
        page.mouse.move(left, y, steps=5)
        page.mouse.up()
        assert title.inner_text().startswith("Image 1 of 3")
        return

    # A finger swiping left shows the next capture, swiping right the previous one.
    cdp = page.context.new_cdp_session(page)

    def swipe(start, end):
        cdp.send(
            "Input.dispatchTouchEvent",
            {"type": "touchStart", "touchPoints": [{"x": start, "y": y}]},
        )
        for step in range(1, 6):
            x = start + (end - start) * step / 5
            cdp.send(
                "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]}
            )
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    swipe(right, left)
    page.wait_for_function(
        "() => document.querySelector('#viewer-title').textContent.includes('2 of 3')"
    )
    swipe(left, right)
    page.wait_for_function(
        "() => document.querySelector('#viewer-title').textContent.includes('1 of 3')"
    )


def test_a_capture_that_cannot_be_loaded_says_so(page, live_server, bob, exam, axe):
    add_jpeg_captures(exam, 1)
    broken = exam.captures.order_by("-position").first()
    storage.local_file(broken.file).unlink()
    open_exam(page, live_server, exam)
    page.click('.gallery a[data-kind="image"] >> nth=2')
    error = page.locator('#capture-viewer [data-viewer="error"]')
    error.wait_for(state="visible")
    assert "could not be opened" in error.inner_text()
    axe.check(page)
    page.keyboard.press("ArrowLeft")
    assert error.is_hidden()
    assert page.locator("#viewer-title").inner_text().startswith("Clip 3 of 4")
