// Attachments, uploaded as soon as they are chosen. Like app.js an enhancement: without it the
// forms keep their plain file fields.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

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
})();
