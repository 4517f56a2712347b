// shouhou 售后 — the little script every page shares: live countdowns and one-click forms.
(function () {
  "use strict";
  var EN = (document.documentElement.lang || "").indexOf("en") === 0;
  var NEAR = 6 * 3600;

  function words(seconds) {
    var s = Math.max(Math.floor(seconds), 0);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return EN ? d + " d " + h + " h" : d + "天" + h + "小时";
    if (h) return EN ? h + " h " + m + " min" : h + "小时" + m + "分钟";
    return EN ? Math.max(m, 1) + " min" : Math.max(m, 1) + "分钟";
  }

  // <span class="countdown" data-deadline="ISO" data-offset="app clock − wall clock, s">
  function tick() {
    var spans = document.querySelectorAll(".countdown[data-deadline]");
    for (var i = 0; i < spans.length; i++) {
      var el = spans[i];
      var offset = parseFloat(el.getAttribute("data-offset") || "0") * 1000;
      var left = (Date.parse(el.getAttribute("data-deadline")) - (Date.now() + offset)) / 1000;
      if (isNaN(left)) continue;
      el.textContent = left <= 0 ? (EN ? "overdue " : "已超时 ") + words(-left) : words(left);
      el.classList.toggle("overdue", left <= 0);
      el.classList.toggle("near", left > 0 && left < NEAR);
      var row = el.closest("tr");
      if (row) {
        row.classList.toggle("overdue", left <= 0);
        row.classList.toggle("near", left > 0 && left < NEAR);
      }
    }
  }

  // A form submits once: the second click of a double click does nothing.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || form.hasAttribute("data-allow-resubmit")) return;
    if (form.dataset.submitting === "1") { ev.preventDefault(); return; }
    form.dataset.submitting = "1";
    var buttons = form.querySelectorAll("button[type=submit], button:not([type])");
    for (var i = 0; i < buttons.length; i++) buttons[i].classList.add("busy");
    // Let the browser send the pressed button's name/value before disabling it.
    setTimeout(function () {
      for (var j = 0; j < buttons.length; j++) buttons[j].disabled = true;
    }, 0);
  }, true);
  // Coming back with the browser's back button must not leave forms locked.
  window.addEventListener("pageshow", function () {
    var forms = document.querySelectorAll("form[data-submitting]");
    for (var i = 0; i < forms.length; i++) {
      delete forms[i].dataset.submitting;
      var bs = forms[i].querySelectorAll("button");
      for (var j = 0; j < bs.length; j++) { bs[j].disabled = false; bs[j].classList.remove("busy"); }
    }
  });
  // Select-all checkboxes: <input type=checkbox data-check-all="name">
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t && t.hasAttribute && t.hasAttribute("data-check-all")) {
      var boxes = document.querySelectorAll("input[type=checkbox][name='" + t.getAttribute("data-check-all") + "']");
      for (var i = 0; i < boxes.length; i++) boxes[i].checked = t.checked;
    }
  });

  // <select data-autosubmit> submits its form on change (no inline handlers: the CSP
  // refuses them).
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t && t.hasAttribute && t.hasAttribute("data-autosubmit") && t.form) t.form.requestSubmit();
  });

  // The chat and conversation pollers send the id of the last message shown (and the
  // portal chat its conversation): added here rather than with hx-vals="js:…", which
  // htmx evaluates as code and the CSP would have to allow with 'unsafe-eval'.
  document.addEventListener("htmx:configRequest", function (ev) {
    var elt = ev.detail && ev.detail.elt;
    var holder = elt && elt.closest ? elt.closest("[data-poll-vals]") : null;
    if (!holder) return;
    var kind = holder.getAttribute("data-poll-vals");
    if (kind === "thread") {
      ev.detail.parameters.after = window.shouhouThread ? window.shouhouThread.lastId() : 0;
    } else if (kind === "chat") {
      ev.detail.parameters.after = window.shouhouChat ? window.shouhouChat.lastId() : 0;
      ev.detail.parameters.conv = window.shouhouChat ? window.shouhouChat.conv() : "";
    }
  });

  // htmx forms stay on the page: unlock them when their request is done.
  document.addEventListener("htmx:afterRequest", function (ev) {
    var form = ev.target && ev.target.closest ? ev.target.closest("form") : null;
    if (!form) return;
    delete form.dataset.submitting;
    var bs = form.querySelectorAll("button");
    for (var j = 0; j < bs.length; j++) { bs[j].disabled = false; bs[j].classList.remove("busy"); }
  });
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 30000);
  window.shouhou = { tick: tick, words: words };
})();
