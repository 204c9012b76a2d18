// Live updates and presence. The server says only "something changed" (ids, never content); the
// page refetches itself through its normal GET and replaces the regions marked data-live-region.
// A region the user is working in (focus inside, ticked boxes) is left alone; choices made in a
// region's forms and not yet sent, and its open menus, are carried into the fresh copy. Messages
// that arrive this way are marked and read out (#live-news). Presence beats drive the collision
// warning ("… is typing"). Server text is only ever parsed as the page's own HTML.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  var source = null;
  var refreshTimer = null;

  function busy(region) {
    if (region.contains(document.activeElement) && document.activeElement !== document.body) { return true; }
    return !!region.querySelector('input[type="checkbox"]:checked');
  }

  // --- unsaved choices --------------------------------------------------------------------------

  function defaultIndex(select) {
    for (var i = 0; i < select.options.length; i += 1) {
      if (select.options[i].defaultSelected) { return i; }
    }
    return select.multiple ? -1 : 0;
  }

  function changed(field) {
    if (field.type === "checkbox" || field.type === "radio") { return field.checked !== field.defaultChecked; }
    if (field.tagName === "SELECT") {
      var start = defaultIndex(field);
      return Array.prototype.some.call(field.options, function (option, i) {
        return option.selected !== (field.multiple ? option.defaultSelected : i === start);
      });
    }
    return field.value !== field.defaultValue;
  }

  // A form is known by its action and its place among the region's forms with the same action.
  function formKey(form, forms) {
    var action = form.getAttribute("action") || "";
    return action + "#" + forms.filter(function (f) { return (f.getAttribute("action") || "") === action; }).indexOf(form);
  }

  function unsaved(region) {
    var forms = Array.prototype.slice.call(region.querySelectorAll("form"));
    var kept = [];
    forms.forEach(function (form) {
      var key = formKey(form, forms);
      each(form.elements, function (field) {
        if (field.name && field.type !== "hidden" && field.type !== "file" && changed(field)) {
          kept.push({ form: key, field: field });
        }
      });
    });
    return kept;
  }

  function restore(field, old) {
    if (field.type === "checkbox" || field.type === "radio") {
      if (field.value === old.value) { field.checked = old.checked; }
    } else if (field.tagName === "SELECT") {
      each(field.options, function (option) {
        option.selected = Array.prototype.some.call(old.options, function (o) { return o.selected && o.value === option.value; });
      });
    } else {
      field.value = old.value;
    }
  }

  function carryOver(region, kept) {
    var forms = Array.prototype.slice.call(region.querySelectorAll("form"));
    kept.forEach(function (item) {
      var form = forms.filter(function (f) { return formKey(f, forms) === item.form; })[0];
      if (!form) { return; }
      each(form.elements, function (field) {
        if (field.name === item.field.name && field.type === item.field.type) { restore(field, item.field); }
      });
    });
  }

  function summaryOf(details) {
    var summary = details.querySelector("summary");
    return summary ? summary.textContent.trim() : "";
  }

  function openMenus(region) {
    return Array.prototype.map.call(region.querySelectorAll("details[open]"), summaryOf);
  }

  function reopen(region, names) {
    each(region.querySelectorAll("details"), function (details) {
      var at = names.indexOf(summaryOf(details));
      if (at !== -1) { details.open = true; names.splice(at, 1); }
    });
  }

  // --- messages that arrive -----------------------------------------------------------------------

  function messageIds(region) {
    return Array.prototype.map.call(region.querySelectorAll("[data-message]"), function (m) { return m.dataset.message; });
  }

  function announce(text) {
    var news = document.getElementById("live-news");
    if (!news) { return; }
    news.textContent = "";  // the same words twice are still read twice
    setTimeout(function () { news.textContent = text; }, 100);
  }

  function markArrivals(region, before) {
    var arrived = Array.prototype.filter.call(region.querySelectorAll("[data-message]"), function (m) {
      return before.indexOf(m.dataset.message) === -1;
    });
    if (!arrived.length) { return false; }
    arrived.forEach(function (m) { m.classList.add("arrived"); });
    var first = arrived[0];
    announce(arrived.length === 1 ? "New " + first.dataset.kind + " from " + first.dataset.author + "." : arrived.length + " new messages.");
    return true;
  }

  // --- refreshing ---------------------------------------------------------------------------------

  function replace(region, replacement) {
    var kept = unsaved(region);
    var menus = openMenus(region);
    var before = messageIds(region);
    region.innerHTML = replacement.innerHTML;
    carryOver(region, kept);
    reopen(region, menus);
    if (window.htmx) { window.htmx.process(region); }
    return markArrivals(region, before);
  }

  function refresh() {
    fetch(window.location.href, { headers: { "X-Live-Refresh": "1" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var arrivals = false;
        document.querySelectorAll("[data-live-region]").forEach(function (region) {
          var replacement = region.id && fresh.getElementById(region.id);
          if (replacement && !busy(region) && replacement.innerHTML !== region.innerHTML) {
            arrivals = replace(region, replacement) || arrivals;
          }
        });
        // Whoever wrote them has stopped typing: ask again who is here.
        if (arrivals) { beat(null); }
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
    delete document.body.dataset.live;  // "connected" again only once this page's stream is
    if (!window.EventSource || !document.querySelector("[data-live-region]")) { return; }
    var ticket = document.querySelector("[data-live-ticket]");
    var url = "/events" + (ticket ? "?ticket=" + encodeURIComponent(ticket.dataset.liveTicket) : "");
    source = new EventSource(url);
    source.addEventListener("ready", function () { document.body.dataset.live = "connected"; });
    source.addEventListener("changed", scheduleRefresh);
    source.addEventListener("created", scheduleRefresh);
    source.addEventListener("presence", function () { beat(null); });
    // The session ended (signed out here or elsewhere): stop listening; the next click signs in.
    source.addEventListener("signed_out", function () {
      if (source) { source.close(); source = null; }
      document.body.dataset.live = "signed-out";
    });
    // A watched ticket changed (ids and a number only): watch.js shows it.
    source.addEventListener("watched", function (event) {
      document.dispatchEvent(new CustomEvent("ticketry:watched", { detail: event.data }));
    });
  }

  // --- presence: who else has this ticket open --------------------------------------------------

  var beatTimer = null;
  var lastTyping = 0;

  function presenceBox() { return document.querySelector("[data-presence-url]"); }

  // Typing: a key in the composer in the last 8 seconds, and words in it still (not sent, not cleared).
  function typing() {
    var body = document.getElementById("composer-body");
    return Date.now() - lastTyping < 8000 && !!body && body.value.trim() !== "";
  }

  function beat(state) {
    var box = presenceBox();
    if (!box) { return; }
    var body = new URLSearchParams();
    body.set("state", state || (typing() ? "typing" : "viewing"));
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

  // The message is on its way: no longer typing, at once (the others' banners follow).
  document.addEventListener("submit", function (event) {
    if (event.target.matches && event.target.matches("[data-composer]")) {
      lastTyping = 0;
      beat("viewing");
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
})();
