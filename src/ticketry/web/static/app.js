// Ticketry's one first-party script: CSRF for htmx, keyboard shortcuts, small conveniences.
// Everything here is an enhancement; every page works without it.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  });

  if (window.htmx) {
    // Error pages (404, 403, 422) are swapped in like any page, so refusals are visible.
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "[45]..", swap: true, error: true }
    ];
  }

  // After a swap, move focus to where the reader's attention should go.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.boosted) {
      var main = document.getElementById("main");
      if (main) { main.focus({ preventScroll: true }); }
    }
  });

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-row]")); }

  function select(index) {
    var all = rows();
    if (!all.length) { return; }
    index = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) { row.classList.toggle("selected", i === index); });
    var link = all[index].querySelector("a.ticket-link");
    if (link) { link.focus({ preventScroll: false }); }
    document.body.dataset.selected = String(index);
  }

  // Rows that were swapped out (a search, another page, a live refresh) take the selection with
  // them: Enter must never open a row that is not highlighted.
  function forgetStaleSelection() {
    if (!document.querySelector("tr[data-row].selected")) { delete document.body.dataset.selected; }
  }
  document.addEventListener("htmx:afterSettle", forgetStaleSelection);
  document.addEventListener("ticketry:refreshed", forgetStaleSelection);

  function current() {
    var value = parseInt(document.body.dataset.selected || "-1", 10);
    return isNaN(value) ? -1 : value;
  }

  function compose(kind) {
    var radio = document.querySelector('[data-composer] input[data-kind="' + kind + '"]');
    var body = document.getElementById("composer-body");
    if (!radio || !body) { return false; }
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    body.focus();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var handled = true;
    switch (event.key) {
      case "j": select(current() + 1); break;
      case "k": select(current() - 1); break;
      case "Enter": {
        var row = rows()[current()];
        if (row) { window.location.href = row.dataset.href; } else { handled = false; }
        break;
      }
      case "r": handled = compose("reply"); break;
      case "n": handled = compose("note"); break;
      case "/": {
        var search = document.querySelector("[data-search]");
        if (search) { search.focus(); search.select(); } else { handled = false; }
        break;
      }
      case "?": {
        var dialog = document.getElementById("shortcuts");
        if (dialog && dialog.showModal) { dialog.showModal(); } else { handled = false; }
        break;
      }
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-shortcuts]");
    if (opener) {
      var dialog = document.getElementById("shortcuts");
      if (dialog && dialog.showModal) { dialog.showModal(); }
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      document.querySelectorAll('input[name="ticket_ids"]').forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches("[data-composer] input[name='internal']")) {
      var note = target.value === "true";
      var card = target.closest(".composer");
      if (card) { card.classList.toggle("note-mode", note); }
      var button = card && card.querySelector("[data-submit-label]");
      if (button) { button.textContent = note ? "Add note" : "Send"; }
    }
  });

  // --- live updates -------------------------------------------------------------------------
  // The server says only "something changed" (ids, never content); we refetch this page through
  // its normal GET and replace the regions marked data-live-region, leaving alone any region the
  // user is working in (focus inside, or ticked checkboxes).

  var source = null;
  var refreshTimer = null;

  function busy(region) {
    if (region.contains(document.activeElement) && document.activeElement !== document.body) { return true; }
    return !!region.querySelector('input[type="checkbox"]:checked');
  }

  function refresh() {
    fetch(window.location.href, { headers: { "X-Live-Refresh": "1" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live-region]").forEach(function (region) {
          var replacement = region.id && fresh.getElementById(region.id);
          if (replacement && !busy(region) && replacement.innerHTML !== region.innerHTML) {
            region.innerHTML = replacement.innerHTML;
            if (window.htmx) { window.htmx.process(region); }
          }
        });
        document.dispatchEvent(new CustomEvent("ticketry:refreshed"));
      })
      .catch(function () { /* offline for a moment: the next event will try again */ });
  }

  function scheduleRefresh() {
    if (refreshTimer) { clearTimeout(refreshTimer); }
    refreshTimer = setTimeout(refresh, 150);
  }

  function connect() {
    if (source) { source.close(); source = null; }
    if (!window.EventSource || !document.querySelector("[data-live-region]")) { return; }
    var ticket = document.querySelector("[data-live-ticket]");
    var url = "/events" + (ticket ? "?ticket=" + encodeURIComponent(ticket.dataset.liveTicket) : "");
    source = new EventSource(url);
    source.addEventListener("ready", function () { document.body.dataset.live = "connected"; });
    source.addEventListener("changed", scheduleRefresh);
    source.addEventListener("created", scheduleRefresh);
    source.addEventListener("presence", function () { beat(null); });
  }

  // --- presence: who else has this ticket open --------------------------------------------------

  var beatTimer = null;
  var lastTyping = 0;

  function presenceBox() { return document.querySelector("[data-presence-url]"); }

  function beat(state) {
    var box = presenceBox();
    if (!box) { return; }
    var body = new URLSearchParams();
    body.set("state", state || (Date.now() - lastTyping < 8000 ? "typing" : "viewing"));
    body.set("csrf_token", csrfToken());
    fetch(box.dataset.presenceUrl, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        box.innerHTML = html;
        box.hidden = !html.trim();
      })
      .catch(function () {});
  }

  function startPresence() {
    if (beatTimer) { clearInterval(beatTimer); beatTimer = null; }
    if (!presenceBox()) { return; }
    beat("viewing");
    beatTimer = setInterval(function () { beat(null); }, 10000);
  }

  document.addEventListener("input", function (event) {
    if (event.target.id === "composer-body" && Date.now() - lastTyping > 3000) {
      lastTyping = Date.now();
      beat("typing");
    }
  });

  window.addEventListener("pagehide", function () {
    var box = presenceBox();
    if (box && navigator.sendBeacon) {
      var data = new FormData();
      data.set("csrf_token", csrfToken());
      navigator.sendBeacon(box.dataset.leaveUrl, data);
    }
  });

  function pageReady() { connect(); startPresence(); }
  document.addEventListener("DOMContentLoaded", pageReady);
  document.addEventListener("htmx:historyRestore", pageReady);
  document.addEventListener("htmx:afterSettle", function (event) { if (event.detail.boosted) { pageReady(); } });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });
})();
