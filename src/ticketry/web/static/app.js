// Ticketry's first-party script: CSRF for htmx, keyboard shortcuts, the composer's unsent draft,
// small conveniences. Attachments are uploads.js, live updates and presence live.js.
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

  // The composer's mode: a public reply or an internal note.
  function chooseKind(kind) {
    var radio = document.querySelector('[data-composer] input[data-kind="' + kind + '"]');
    if (!radio) { return false; }
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function compose(kind) {
    var body = document.getElementById("composer-body");
    if (!body || !chooseKind(kind)) { return false; }
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

  // The bulk bar (shown by app.css once a box is ticked) says how many tickets it would change.
  function countSelected() {
    var count = document.querySelectorAll('input[name="ticket_ids"]:checked').length;
    document.querySelectorAll("[data-bulk-count]").forEach(function (label) {
      label.textContent = count ? "(" + count + " selected)" : "";
    });
  }

  // A note's placeholder says it is a note (the reply's is the textarea's own).
  function placeholderFor(card, note) {
    var body = card && card.querySelector("#composer-body");
    if (!body || !body.dataset.notePlaceholder) { return; }
    if (!body.dataset.replyPlaceholder) { body.dataset.replyPlaceholder = body.placeholder; }
    body.placeholder = note ? body.dataset.notePlaceholder : body.dataset.replyPlaceholder;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      document.querySelectorAll('input[name="ticket_ids"]').forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches("[data-select-all], input[name='ticket_ids']")) { countSelected(); }
    if (target.matches("[data-composer] input[name='internal']")) {
      var note = target.value === "true";
      var card = target.closest(".composer");
      if (card) { card.classList.toggle("note-mode", note); }
      var button = card && card.querySelector("[data-submit-label]");
      if (button) { button.textContent = note ? "Add note" : "Send"; }
      placeholderFor(card, note);
    }
  });

  // --- the composer's unsent draft ------------------------------------------------------------
  // Leaving a ticket page with words in the composer asks first: the browser's own question for a
  // reload or a closed tab (beforeunload), ours for a link htmx follows. A form of the same ticket
  // (status, assignee, …) comes back to this page, so the draft is carried over, unasked; so is a
  // sent draft that came back refused. Sent or cleared, there is nothing to ask about.

  var sending = false;
  var carried = null;

  function composerBody() { return document.getElementById("composer-body"); }

  function draft() {
    var body = composerBody();
    return body && !sending ? body.value.trim() : "";
  }

  function shownTicket() {
    var page = document.querySelector("[data-live-ticket]");
    return page ? page.dataset.liveTicket : null;
  }

  function carry(sent) {
    var note = document.querySelector('[data-composer] input[data-kind="note"]');
    carried = { ticket: shownTicket(), text: composerBody().value, note: !!(note && note.checked), sent: sent };
  }

  window.addEventListener("beforeunload", function (event) {
    if (draft()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  document.addEventListener("submit", function (event) {
    if (event.target.matches && event.target.matches("[data-composer]") && draft()) {
      carry(true);
      sending = true;
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!event.detail.boosted || !draft() || (elt.closest && elt.closest("[data-composer]"))) { return; }
    var ticket = shownTicket();
    var action = elt.tagName === "FORM" ? elt.getAttribute("action") || "" : "";
    if (ticket && action.indexOf("/desk/tickets/" + ticket + "/") === 0) {
      carry(false);
    } else if (!window.confirm("Your reply is not sent yet. Leave this page and lose it?")) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:sendError", function () { sending = false; carried = null; });

  function restoreDraft() {
    var kept = carried;
    sending = false;
    carried = null;
    var body = composerBody();
    if (!kept || !body || body.value || shownTicket() !== kept.ticket) { return; }
    if (kept.sent && !document.querySelector(".flash-error")) { return; }
    body.value = kept.text;
    if (kept.note) { chooseKind("note"); }
  }

  document.addEventListener("htmx:afterSettle", function (event) { if (event.detail.boosted) { restoreDraft(); } });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });
})();
