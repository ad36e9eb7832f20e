// The capture viewer of the exam page (templates/reports/includes/viewer.html): every
// image and clip of the gallery page in one dialog, in gallery order. It opens fit to the
// screen; zoom and pan (buttons, keys, wheel around the pointer, drag, pinch) are the
// @panzoom/panzoom library's (static/vendor/panzoom/); brightness and contrast are a CSS
// filter; clips get play/pause, frame steps, speed and a scrubber.
// Without JavaScript the gallery's links open the image or clip itself.
(function () {
  "use strict";

  var dialog = document.getElementById("capture-viewer");
  if (!dialog || typeof dialog.showModal !== "function" || typeof window.Panzoom !== "function") {
    return;
  }
  // The gallery's links in page order, read at each opening: captures that arrive while
  // the page is open are put in place without a reload.
  var LINKS = ".gallery a.zoomable";
  var links = [];

  // A clip's frame rate when the gallery knows it (data-fps), else the usual 30.
  var DEFAULT_FPS = 30;
  var ZOOM_STEP = Math.log(1.5); // each + or − multiplies or divides the scale by 1.5
  var MAX_SCALE = 16;
  var SWIPE_PX = 60;

  function part(name) { return dialog.querySelector('[data-viewer="' + name + '"]'); }
  var stage = part("stage");
  var pan = part("pan");
  var image = part("image");
  var video = part("video");
  var clipControls = part("clip-controls");
  var playButton = part("play");
  var scrubber = part("scrubber");
  var timeOut = part("time");
  var speed = part("speed");
  var brightness = part("brightness");
  var contrast = part("contrast");
  var zoomOut = part("zoom-out");
  var zoomLevel = part("zoom");
  var fullscreen = part("fullscreen");
  var previous = part("previous");
  var failure = part("error");
  var next = part("next");

  var panzoom = window.Panzoom(pan, {
    minScale: 1,
    maxScale: MAX_SCALE,
    step: ZOOM_STEP,
    contain: "outside", // the zoomed box keeps covering the stage: no panning the picture away
    cursor: "grab",
  });

  var current = -1;
  var opener = null;

  function kindOf(link) {
    return link.getAttribute("data-kind") === "clip" ? "clip" : "image";
  }

  function labelOf(link) {
    var item = link.closest(".gallery-item");
    var caption = item && item.querySelector(".caption");
    return caption ? caption.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function fps() {
    var value = parseFloat(links[current].getAttribute("data-fps"));
    return value > 0 && value <= 1000 ? value : DEFAULT_FPS;
  }

  // Zoom --------------------------------------------------------------------------------
  function scale() { return panzoom.getScale(); }

  function stageCentre() {
    var box = stage.getBoundingClientRect();
    return { clientX: box.left + box.width / 2, clientY: box.top + box.height / 2 };
  }

  function zoomBy(factor) {
    var to = Math.min(Math.max(scale() * factor, 1), MAX_SCALE);
    panzoom.zoomToPoint(to, stageCentre());
  }

  function fit() { panzoom.reset({ animate: false }); }

  function showZoom() {
    var zoomed = scale() > 1.001;
    zoomLevel.textContent = Math.round(scale() * 100) + "%";
    stage.classList.toggle("is-zoomed", zoomed);
    zoomOut.disabled = !zoomed;
  }
  pan.addEventListener("panzoomchange", showZoom);

  // Arrow keys move the view by a tenth of the stage (pan units are unscaled pixels).
  function panBy(dx, dy) {
    var step = 0.1 / scale();
    panzoom.pan(-dx * stage.clientWidth * step, -dy * stage.clientHeight * step, { relative: true });
  }

  stage.addEventListener("wheel", function (event) { panzoom.zoomWithWheel(event); }, { passive: false });

  // A new size (full screen, a phone turned): the same zoom, its pan kept within the stage.
  function keepInside() {
    if (!dialog.open) { return; }
    var at = panzoom.getPan();
    panzoom.pan(at.x, at.y, { force: true });
  }
  window.addEventListener("resize", keepInside);

  // Brightness and contrast -----------------------------------------------------------
  function adjust() {
    pan.style.filter = "brightness(" + brightness.value + "%) contrast(" + contrast.value + "%)";
    brightness.setAttribute("aria-valuetext", brightness.value + "%");
    contrast.setAttribute("aria-valuetext", contrast.value + "%");
  }
  function resetAdjust() {
    brightness.value = 100;
    contrast.value = 100;
    adjust();
  }
  brightness.addEventListener("input", adjust);
  contrast.addEventListener("input", adjust);
  part("reset-adjust").addEventListener("click", resetAdjust);

  // Full screen: the Fullscreen API where there is one, else the dialog fills the window.
  function isFull() {
    return document.fullscreenElement === dialog || dialog.classList.contains("is-full");
  }
  function showFull() { fullscreen.setAttribute("aria-pressed", String(isFull())); }
  function fullWindow(on) {
    dialog.classList.toggle("is-full", on);
    showFull();
    keepInside();
  }
  function toggleFull() {
    if (document.fullscreenElement === dialog) {
      document.exitFullscreen();
    } else if (dialog.classList.contains("is-full")) {
      fullWindow(false);
    } else if (document.fullscreenEnabled && dialog.requestFullscreen) {
      dialog.requestFullscreen().catch(function () { fullWindow(true); });
    } else {
      fullWindow(true);
    }
  }
  fullscreen.addEventListener("click", toggleFull);
  document.addEventListener("fullscreenchange", function () { showFull(); keepInside(); });

  // Clips -----------------------------------------------------------------------------
  function seconds(value) { return (value || 0).toFixed(2) + " s"; }

  function showTime() {
    var duration = isFinite(video.duration) ? video.duration : 0;
    scrubber.max = String(duration);
    scrubber.value = String(video.currentTime);
    var text = seconds(video.currentTime) + " / " + seconds(duration);
    timeOut.textContent = text;
    scrubber.setAttribute("aria-valuetext", text);
  }

  function showPlaying() {
    playButton.textContent = video.paused ? "Play" : "Pause";
  }

  function togglePlay() {
    if (video.paused) {
      var playing = video.play();
      if (playing && playing.catch) { playing.catch(function () { showPlaying(); }); }
    } else {
      video.pause();
    }
  }

  function stepFrames(count) {
    video.pause();
    var duration = isFinite(video.duration) ? video.duration : 0;
    video.currentTime = Math.min(Math.max(video.currentTime + count / fps(), 0), duration);
    showTime();
  }

  // While playing, the scrubber follows every frame rather than timeupdate's few a second.
  function follow() {
    showTime();
    if (!video.paused && dialog.open) { window.requestAnimationFrame(follow); }
  }

  ["loadedmetadata", "durationchange", "seeked", "timeupdate"].forEach(function (name) {
    video.addEventListener(name, showTime);
  });
  video.addEventListener("play", function () { showPlaying(); follow(); });
  video.addEventListener("pause", showPlaying);
  playButton.addEventListener("click", togglePlay);
  part("frame-back").addEventListener("click", function () { stepFrames(-1); });
  part("frame-forward").addEventListener("click", function () { stepFrames(1); });
  scrubber.addEventListener("input", function () {
    video.currentTime = parseFloat(scrubber.value) || 0;
    showTime(); // the time shown follows at once, not when the seek has finished
  });
  speed.addEventListener("change", function () { video.playbackRate = parseFloat(speed.value) || 1; });
  video.addEventListener("ratechange", function () {
    // A rate from elsewhere (a browser control) shows in the select when it is one of ours.
    var value = String(video.playbackRate);
    if (speed.querySelector('option[value="' + value + '"]')) { speed.value = value; }
  });

  function stopClip() {
    video.pause();
    if (video.hasAttribute("src")) {
      video.removeAttribute("src");
      video.load(); // stops the download of the clip being left
    }
  }

  // A capture that cannot be loaded (gone, the network, a refusal) says so in words.
  function failed(event) {
    if (event.target.hidden || !event.target.getAttribute("src")) { return; }
    failure.hidden = false;
  }
  image.addEventListener("error", failed);
  video.addEventListener("error", failed);

  // Showing capture n ---------------------------------------------------------------------
  function show(index) {
    if (index < 0 || index >= links.length) { return; }
    current = index;
    var link = links[index];
    var kind = kindOf(link);
    var label = labelOf(link);
    var position = (kind === "clip" ? "Clip " : "Image ") + (index + 1) + " of " + links.length;
    part("position").textContent = position;
    part("label").textContent = label ? "· " + label : "";
    fit();
    stopClip();
    failure.hidden = true;
    if (kind === "clip") {
      image.hidden = true;
      image.removeAttribute("src");
      video.hidden = false;
      video.setAttribute("aria-label", position + (label ? ", " + label : ""));
      video.src = link.href;
      video.playbackRate = parseFloat(speed.value) || 1;
      clipControls.hidden = false;
      showTime();
      showPlaying();
    } else {
      video.hidden = true;
      clipControls.hidden = true;
      image.alt = position + (label ? ", " + label : "");
      image.src = link.href;
      image.hidden = false;
    }
    // No focus may be left on a button that has just been disabled.
    var focused = document.activeElement;
    previous.disabled = index === 0;
    next.disabled = index === links.length - 1;
    if (focused && focused.disabled) { stage.focus(); }
    showZoom();
  }

  function move(by) {
    var to = current + by;
    if (to >= 0 && to < links.length) { show(to); }
  }
  previous.addEventListener("click", function () { move(-1); });
  next.addEventListener("click", function () { move(1); });
  part("zoom-in").addEventListener("click", function () { zoomBy(1.5); });
  zoomOut.addEventListener("click", function () { zoomBy(1 / 1.5); });
  part("fit").addEventListener("click", fit);

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(LINKS) : null;
    // A new tab or window (ctrl/cmd/shift/middle click) still opens the file itself.
    if (!link || event.defaultPrevented || event.button !== 0 || event.ctrlKey ||
        event.metaKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    links = Array.prototype.slice.call(document.querySelectorAll(LINKS));
    opener = link;
    resetAdjust();
    show(links.indexOf(link));
    dialog.showModal();
    // The picture takes the focus: every key of the viewer works from there.
    stage.focus();
  });

  dialog.addEventListener("close", function () {
    stopClip();
    image.removeAttribute("src");
    if (document.fullscreenElement === dialog) { document.exitFullscreen(); }
    fullWindow(false);
    if (opener) { opener.focus(); }
  });

  // Keys ------------------------------------------------------------------------------
  dialog.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    var tag = target.tagName;
    // Sliders, the speed select and text fields keep their own keys.
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") { return; }
    var clip = !clipControls.hidden;
    var zoomed = scale() > 1.001;
    var key = event.key;
    var handled = true;
    if (key === "+" || key === "=") {
      zoomBy(1.5);
    } else if (key === "-" || key === "_") {
      zoomBy(1 / 1.5);
    } else if (key === "0") {
      fit();
    } else if (key === "ArrowLeft") {
      if (zoomed) { panBy(-1, 0); } else { move(-1); }
    } else if (key === "ArrowRight") {
      if (zoomed) { panBy(1, 0); } else { move(1); }
    } else if (key === "ArrowUp" && zoomed) {
      panBy(0, -1);
    } else if (key === "ArrowDown" && zoomed) {
      panBy(0, 1);
    } else if (clip && (key === "k" || (key === " " && tag !== "BUTTON"))) {
      togglePlay();
    } else if (clip && key === ",") {
      stepFrames(-1);
    } else if (clip && key === ".") {
      stepFrames(1);
    } else {
      handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  // A swipe on a touch screen, not zoomed in, goes to the next or previous capture (a
  // zoomed picture pans instead, and two fingers pinch).
  var swipe = null;
  var touching = 0;
  stage.addEventListener("pointerdown", function (event) {
    if (event.pointerType === "mouse") { return; }
    touching += 1;
    swipe = touching === 1 && scale() <= 1.001
      ? { id: event.pointerId, x: event.clientX, y: event.clientY } : null;
  }, true);
  function pointerEnd(event) {
    if (event.pointerType === "mouse") { return; }
    touching = Math.max(touching - 1, 0);
    if (!swipe || swipe.id !== event.pointerId) { return; }
    var dx = event.clientX - swipe.x;
    var dy = event.clientY - swipe.y;
    swipe = null;
    if (event.type === "pointerup" && Math.abs(dx) > SWIPE_PX && Math.abs(dx) > 2 * Math.abs(dy)) {
      move(dx < 0 ? 1 : -1);
    }
  }
  document.addEventListener("pointerup", pointerEnd, true);
  document.addEventListener("pointercancel", pointerEnd, true);
})();
