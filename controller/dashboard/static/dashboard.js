// Live updates: every element with data-refresh="URL" is replaced by the HTML fragment at URL
// every data-every seconds. A login that lapsed (401) reloads the page, which goes to the login.
// Images already shown keep their <img> element: a refresh downloads no snapshot again and
// aborts no load under way (snapshot addresses are stable: /snapshots/<clip id>.jpg).
"use strict";
function keepImages(el, fresh) {
  var shown = {};
  el.querySelectorAll("img[src]").forEach(function (img) { shown[img.getAttribute("src")] = img; });
  fresh.querySelectorAll("img[src]").forEach(function (img) {
    var old = shown[img.getAttribute("src")];
    if (old) { img.replaceWith(old); delete shown[img.getAttribute("src")]; }
  });
}
function refresh(el) {
  fetch(el.dataset.refresh, {credentials: "same-origin", headers: {"Accept": "text/html"}})
    .then(function (r) {
      if (r.status === 401) { window.location.reload(); return null; }
      return r.ok ? r.text() : null;
    })
    .then(function (html) {
      if (html === null || html === el.lastFragment) { return; }
      var fresh = document.createElement("template");  // inert: nothing in it loads yet
      fresh.innerHTML = html;
      keepImages(el, fresh.content);
      el.replaceChildren(fresh.content);
      el.lastFragment = html;
    })
    .catch(function () { /* offline for a moment: the next tick tries again */ });
}
// The playhead of a timeline (svg[data-duration], which chart() names) follows the video.
function followPlayhead(video, chart) {
  video.addEventListener("timeupdate", function () {
    var svg = chart(), head = svg && svg.querySelector(".playhead");
    if (!head) { return; }
    var x = +svg.dataset.x0 + svg.dataset.width * Math.min(1, video.currentTime / svg.dataset.duration);
    head.setAttribute("x1", x.toFixed(1));
    head.setAttribute("x2", x.toFixed(1));
  });
}
// An event's clips play one after another (data-clip-src, in trigger order); the playing clip's
// timeline shows where the video is.
function playInOrder(player) {
  var video = player.querySelector("video");
  var clips = Array.prototype.slice.call(player.querySelectorAll("[data-clip-src]"));
  var current = -1;
  function show(n, play) {
    current = n;
    clips.forEach(function (clip, i) { clip.classList.toggle("playing", i === n); });
    if (video.getAttribute("src") !== clips[n].dataset.clipSrc) { video.src = clips[n].dataset.clipSrc; }
    if (play) { video.play().catch(function () { /* the browser wants a click first: the controls are there */ }); }
  }
  function next(from) {
    for (var i = from; i < clips.length; i++) { if (clips[i].dataset.clipSrc) { return i; } }
    return -1;
  }
  video.addEventListener("ended", function () {
    var n = next(current + 1);
    if (n >= 0) { show(n, true); }
  });
  followPlayhead(video, function () { return current >= 0 && clips[current].querySelector("svg[data-duration]"); });
  clips.forEach(function (clip, i) {
    var button = clip.querySelector("button.play");
    if (button) { button.addEventListener("click", function () { show(i, true); }); }
  });
  var first = next(0);
  if (first >= 0) { show(first, false); }
}
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("#event-player").forEach(playInOrder);
  document.querySelectorAll("#clip-video").forEach(function (video) {
    followPlayhead(video, function () { return document.querySelector("svg.objects[data-duration]"); });
  });
  document.querySelectorAll("[data-refresh]").forEach(function (el) {
    setInterval(function () { if (!document.hidden) { refresh(el); } }, 1000 * (+el.dataset.every || 3));
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) { if (!window.confirm(form.dataset.confirm)) { e.preventDefault(); } });
  });
});
