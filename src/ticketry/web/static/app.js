// Ticketry's one first-party script: CSRF for htmx, keyboard shortcuts, attachments, small conveniences.
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

  // --- attachments ------------------------------------------------------------------------------
  // Each chosen or dropped file is uploaded at once (POST /api/v1/attachments); a finished upload
  // leaves a hidden attachment_ids field in the form, and the form itself never posts bytes. While
  // an upload runs the form's submit buttons are disabled. Server text is only ever set as text.

  var UPLOAD_URL = "/api/v1/attachments";
  var UPLOAD_ERRORS = {
    401: "Your session has ended. Sign in again to attach files.",
    403: "You may not attach files here. Reload the page and try again.",
    413: "This file is too large.",
    415: "This kind of file is not allowed.",
    422: "This file was refused.",
    503: "Files cannot be checked right now. Try again in a few minutes."
  };

  // As the server words sizes (attachments.intake.human_size): "512 bytes", "1.2 MB".
  function fileSize(size) {
    // The same wording as the server's attachments.intake.human_size.
    if (size < 1024) {
      return size === 1 ? "1 byte" : size + " bytes";
    }
    var value = size / 1024;
    var units = ["KB", "MB"];
    for (var i = 0; i < units.length; i += 1) {
      if (Math.round(value * 10) / 10 < 1024) {
        return value.toFixed(1) + " " + units[i];
      }
      value /= 1024;
    }
    return value.toFixed(1) + " GB";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function setUpUploaders() {
    document.querySelectorAll("[data-uploader][hidden]").forEach(function (box) {
      box.hidden = false;
      var fallback = box.parentNode.querySelector("[data-uploader-fallback]");
      if (fallback) { fallback.hidden = true; }
    });
  }

  function announce(box, text) {
    var status = box.querySelector("[data-upload-status]");
    if (status) { status.textContent = text; }
  }

  function running(scope) {
    return scope.querySelectorAll('[data-upload-list] li[data-state="uploading"]').length;
  }

  // Submit buttons wait while any upload in their form runs; only the ones we disabled come back.
  function updateSubmit(box) {
    var form = box.closest("form");
    if (!form) { return; }
    var count = running(form);
    form.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]').forEach(function (button) {
      if (count && !button.disabled) {
        button.disabled = true;
        button.dataset.waitsForUploads = "true";
      } else if (!count && button.dataset.waitsForUploads) {
        button.disabled = false;
        delete button.dataset.waitsForUploads;
      }
    });
    form.querySelectorAll("[data-upload-wait]").forEach(function (note) { note.hidden = !count; });
  }

  function fileRow(box, file) {
    var row = el("li", "upload");
    row.dataset.state = "uploading";
    row.dataset.name = file.name;
    var head = el("div", "upload-head");
    head.appendChild(el("span", "upload-name", file.name));
    head.appendChild(el("span", "muted small", fileSize(file.size)));
    var remove = el("button", "link upload-remove", "Remove");
    remove.type = "button";
    remove.setAttribute("aria-label", "Remove " + file.name);
    remove.dataset.uploadRemove = "";
    head.appendChild(remove);
    row.appendChild(head);
    var progress = el("progress");
    progress.max = Math.max(file.size, 1);
    progress.value = 0;
    progress.setAttribute("aria-label", "Uploading " + file.name);
    row.appendChild(progress);
    row.appendChild(el("p", "upload-state small", "Uploading…"));
    box.querySelector("[data-upload-list]").appendChild(row);
    return row;
  }

  function failRow(box, row, message) {
    row.dataset.state = "failed";
    row.ticketryUpload = null;
    var progress = row.querySelector("progress");
    if (progress) { progress.remove(); }
    var state = row.querySelector(".upload-state");
    state.className = "upload-state upload-error small";
    state.textContent = message;
    announce(box, row.dataset.name + " was not attached: " + message);
    updateSubmit(box);
  }

  function finishRow(box, row, attachment) {
    row.dataset.state = "done";
    row.dataset.id = String(attachment.id);
    row.ticketryUpload = null;
    var progress = row.querySelector("progress");
    progress.value = progress.max;
    progress.setAttribute("aria-label", row.dataset.name + " uploaded");
    row.querySelector(".upload-state").textContent = "Uploaded";
    var field = el("input");
    field.type = "hidden";
    field.name = "attachment_ids";
    field.value = String(attachment.id);
    row.appendChild(field);
    announce(box, row.dataset.name + " uploaded.");
    updateSubmit(box);
  }

  function errorMessage(xhr) {
    try {
      var error = JSON.parse(xhr.responseText).error;
      if (error && typeof error.message === "string" && error.message) { return error.message; }
    } catch (ignored) { /* not JSON: a proxy's page, say */ }
    return UPLOAD_ERRORS[xhr.status] || "The upload failed (error " + xhr.status + "). Try again.";
  }

  function upload(box, file) {
    var row = fileRow(box, file);
    var xhr = new XMLHttpRequest();
    row.ticketryUpload = xhr;
    xhr.open("POST", UPLOAD_URL);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) { return; }
      var progress = row.querySelector("progress");
      progress.max = event.total;
      progress.value = event.loaded;
      if (event.loaded >= event.total) { row.querySelector(".upload-state").textContent = "Checking…"; }
    });
    xhr.addEventListener("load", function () {
      var attachment = null;
      if (xhr.status === 201) {
        try { attachment = JSON.parse(xhr.responseText).data[0]; } catch (ignored) { attachment = null; }
      }
      if (attachment && attachment.id) { finishRow(box, row, attachment); } else { failRow(box, row, errorMessage(xhr)); }
    });
    xhr.addEventListener("error", function () {
      failRow(box, row, "The upload was interrupted. Check your connection and try again.");
    });
    var body = new FormData();
    body.append("file", file, file.name);
    xhr.send(body);
    announce(box, "Uploading " + file.name + "…");
  }

  function addFiles(box, files) {
    var maxFiles = parseInt(box.dataset.maxFiles || "20", 10);
    var maxSize = parseInt(box.dataset.maxSize || "0", 10);
    Array.prototype.forEach.call(files, function (file) {
      var kept = box.querySelectorAll('[data-upload-list] li:not([data-state="failed"])').length;
      if (kept >= maxFiles) {
        failRow(box, fileRow(box, file), "Only " + maxFiles + " files can go with one message.");
      } else if (maxSize && file.size > maxSize) {
        failRow(box, fileRow(box, file), "This file is larger than " + fileSize(maxSize) + ", the limit.");
      } else {
        upload(box, file);
      }
    });
    updateSubmit(box);
  }

  function removeUpload(row) {
    var box = row.closest("[data-uploader]");
    if (row.ticketryUpload) { row.ticketryUpload.abort(); }
    if (row.dataset.id) {
      // The hidden field goes with the row, so the file is not sent either way; deleting frees it.
      fetch(UPLOAD_URL + "/" + encodeURIComponent(row.dataset.id), {
        method: "DELETE", headers: { "X-CSRF-Token": csrfToken() }, credentials: "same-origin", keepalive: true
      }).catch(function () {});
    }
    var next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    var focus = next ? next.querySelector("[data-upload-remove]") : box.querySelector("[data-file-input]");
    if (focus) { focus.focus(); }
    announce(box, row.dataset.name + " removed.");
    updateSubmit(box);
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-file-input]")) { return; }
    var box = input.closest("[data-uploader]");
    if (box && input.files && input.files.length) { addFiles(box, input.files); }
    input.value = "";  // the bytes are on their way already; the form must never carry them
  });

  document.addEventListener("click", function (event) {
    var remove = event.target.closest && event.target.closest("[data-upload-remove]");
    if (remove) { removeUpload(remove.closest("li")); }
  });

  function carriesFiles(event) {
    return event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types || [], "Files") !== -1;
  }

  // Files dropped anywhere on a page with an uploader must not replace the page (the browser's
  // default); only a drop zone takes them.
  document.addEventListener("dragover", function (event) {
    if (!carriesFiles(event) || !document.querySelector("[data-uploader]")) { return; }
    event.preventDefault();
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    event.dataTransfer.dropEffect = zone ? "copy" : "none";
    if (zone) { zone.classList.add("dragging"); }
  });

  document.addEventListener("dragleave", function (event) {
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (zone && !zone.contains(event.relatedTarget)) { zone.classList.remove("dragging"); }
  });

  document.addEventListener("drop", function (event) {
    if (!carriesFiles(event) || !document.querySelector("[data-uploader]")) { return; }
    event.preventDefault();
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (!zone) { return; }
    zone.classList.remove("dragging");
    var box = zone.closest("[data-uploader]");
    if (box && event.dataTransfer.files.length) { addFiles(box, event.dataTransfer.files); }
  });

  // Capture phase, so that htmx (which listens on the form) never sees a submit we refuse.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var box = form.querySelector && form.querySelector("[data-uploader]");
    if (box && running(form)) {
      event.preventDefault();
      event.stopPropagation();
      announce(box, "Wait until the files have finished uploading, then send.");
    }
  }, true);

  // htmx keeps a copy of the page for the Back button: without the uploads, whose ids the form
  // just sent.
  document.addEventListener("htmx:beforeHistorySave", function () {
    document.querySelectorAll("[data-upload-list]").forEach(function (list) { list.textContent = ""; });
  });

  document.addEventListener("DOMContentLoaded", setUpUploaders);
  document.addEventListener("htmx:load", setUpUploaders);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });
})();
