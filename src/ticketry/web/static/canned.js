// The composer's canned-reply picker: `c` (or the button) opens it, typing searches, ↑/↓ choose,
// Enter inserts the reply rendered for this ticket at the composer's cursor, Escape closes.
// Texts come from the JSON API and are only ever set as textContent or a textarea's value.
(function () {
  "use strict";
  if (window.ticketryCannedPicker) { return; }  // htmx may run this file again after a boosted swap
  window.ticketryCannedPicker = true;

  var state = { items: [], index: -1, searchSeq: 0, previewSeq: 0, searchTimer: null, previewTimer: null, start: 0, end: 0 };

  function root() { return document.querySelector("[data-canned]"); }

  function parts(box) {
    return {
      button: box.querySelector("[data-canned-open]"),
      popup: box.querySelector("[data-canned-popup]"),
      search: box.querySelector("[data-canned-search]"),
      list: box.querySelector("[data-canned-results]"),
      preview: box.querySelector("[data-canned-preview]"),
      status: box.querySelector("[data-canned-status]")
    };
  }

  function composer() { return document.getElementById("composer-body"); }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function isOpen(box) { return box && !parts(box).popup.hidden; }

  function say(box, text) { parts(box).status.textContent = text; }

  function api(path, options) {
    return fetch(path, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json" } }, options || {}))
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); });
  }

  function use(box, item, kind) {
    return api("/api/v1/canned-replies/" + item.id + "/" + kind, {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ ticketId: Number(box.dataset.ticket) })
    });
  }

  function open(box) {
    var p = parts(box), body = composer();
    if (body) { state.start = body.selectionStart; state.end = body.selectionEnd; }
    p.popup.hidden = false;
    p.button.setAttribute("aria-expanded", "true");
    p.search.value = "";
    p.search.focus();
    search(box, "");
  }

  function close(box, refocus) {
    var p = parts(box);
    p.popup.hidden = true;
    p.button.setAttribute("aria-expanded", "false");
    p.search.removeAttribute("aria-activedescendant");
    state.searchSeq += 1;
    state.previewSeq += 1;
    var body = composer();
    if (refocus && body) {
      body.focus();
      body.setSelectionRange(state.start, state.end);
    }
  }

  function search(box, text) {
    var seq = ++state.searchSeq;
    var url = "/api/v1/canned-replies?sort=usage&page_size=20&q=" + encodeURIComponent(text.slice(0, 200));
    api(url)
      .then(function (page) {
        if (seq !== state.searchSeq) { return; }
        state.items = page.data;
        draw(box);
        choose(box, state.items.length ? 0 : -1);
      })
      .catch(function () { if (seq === state.searchSeq) { say(box, "Canned replies could not be loaded."); } });
  }

  function draw(box) {
    var p = parts(box);
    p.list.textContent = "";
    state.items.forEach(function (item, i) {
      var li = document.createElement("li");
      li.id = "canned-option-" + item.id;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.index = String(i);
      var title = document.createElement("span");
      title.className = "canned-option-title";
      title.textContent = item.title;
      li.appendChild(title);
      var meta = document.createElement("span");
      meta.className = "muted small";
      meta.textContent = [item.shared ? "Shared" : "Mine", item.category || "", item.usageCount + " uses"]
        .filter(Boolean).join(" · ");
      li.appendChild(meta);
      p.list.appendChild(li);
    });
    var count = state.items.length;
    say(box, count ? count + " canned repl" + (count === 1 ? "y" : "ies") + "." : "No canned reply matches.");
    if (!count) { p.preview.textContent = ""; }
  }

  function choose(box, index) {
    var p = parts(box);
    state.index = index;
    Array.prototype.forEach.call(p.list.children, function (li, i) {
      var chosen = i === index;
      li.setAttribute("aria-selected", chosen ? "true" : "false");
      li.classList.toggle("chosen", chosen);
      if (chosen) {
        p.search.setAttribute("aria-activedescendant", li.id);
        if (li.scrollIntoView) { li.scrollIntoView({ block: "nearest" }); }
      }
    });
    if (index < 0) { p.search.removeAttribute("aria-activedescendant"); return; }
    if (state.previewTimer) { clearTimeout(state.previewTimer); }
    state.previewTimer = setTimeout(function () { preview(box, state.items[index]); }, 120);
  }

  function preview(box, item) {
    if (!item) { return; }
    var p = parts(box), seq = ++state.previewSeq;
    p.preview.dataset.loading = "true";
    use(box, item, "preview")
      .then(function (data) {
        if (seq !== state.previewSeq) { return; }
        p.preview.textContent = data.text;
        p.preview.dataset.replyId = String(item.id);
        delete p.preview.dataset.loading;
        if (data.unknownVariables.length) {
          say(box, "Unknown variables render as nothing: " + data.unknownVariables.join(", "));
        }
      })
      .catch(function () {
        if (seq === state.previewSeq) { p.preview.textContent = "No preview available."; delete p.preview.dataset.loading; }
      });
  }

  function insert(box) {
    var item = state.items[state.index];
    if (!item) { return; }
    use(box, item, "render")
      .then(function (data) {
        var body = composer();
        close(box, false);
        if (!body) { return; }
        body.focus();
        body.setRangeText(data.text, state.start, state.end, "end");
        body.dispatchEvent(new Event("input", { bubbles: true }));
      })
      .catch(function () { say(box, "The reply could not be inserted. Try again."); });
  }

  document.addEventListener("keydown", function (event) {
    var box = root();
    if (!box) { return; }
    var p = parts(box);
    if (event.target === p.search) {
      var last = state.items.length - 1;
      switch (event.key) {
        case "ArrowDown": choose(box, Math.min(state.index + 1, last)); break;
        case "ArrowUp": choose(box, Math.max(state.index - 1, last < 0 ? -1 : 0)); break;
        case "Enter": insert(box); break;  // never submits the composer's form
        case "Escape": close(box, true); break;
        default: return;
      }
      event.preventDefault();
      return;
    }
    if (event.key === "Escape" && isOpen(box) && box.contains(event.target)) {
      close(box, true);
      event.preventDefault();
      return;
    }
    if (event.key === "c" && !event.ctrlKey && !event.metaKey && !event.altKey && !typing(event.target)) {
      open(box);
      event.preventDefault();
    }
  });

  document.addEventListener("input", function (event) {
    var box = root();
    if (!box || event.target !== parts(box).search) { return; }
    if (state.searchTimer) { clearTimeout(state.searchTimer); }
    state.searchTimer = setTimeout(function () { search(box, event.target.value); }, 150);
  });

  document.addEventListener("click", function (event) {
    var box = root();
    if (!box) { return; }
    var p = parts(box);
    if (event.target.closest("[data-canned-open]")) {
      event.preventDefault();
      if (isOpen(box)) { close(box, true); } else { open(box); }
      return;
    }
    var option = event.target.closest("[data-canned-results] [role=option]");
    if (option) {
      choose(box, Number(option.dataset.index));
      insert(box);
      return;
    }
    if (isOpen(box) && !p.popup.contains(event.target)) { close(box, false); }
  });
})();
