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
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-refresh]").forEach(function (el) {
    setInterval(function () { if (!document.hidden) { refresh(el); } }, 1000 * (+el.dataset.every || 3));
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) { if (!window.confirm(form.dataset.confirm)) { e.preventDefault(); } });
  });
});
