// Watchers on the desk: the `w` shortcut, and a toast plus a badge when a watched ticket changes.
// The live event (live.js relays it as "ticketry:watched") names only the ticket's id and number
// and what changed; text is only ever set as text. Everything here is an enhancement.
(function () {
  "use strict";

  var unseen = 0;

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "w" || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var toggle = document.querySelector("[data-watch-toggle]");
    if (toggle) {
      event.preventDefault();
      toggle.click();
    }
  });

  function box() {
    var found = document.getElementById("watch-toasts");
    if (!found) {
      found = document.createElement("div");
      found.id = "watch-toasts";
      found.className = "toasts";
      found.setAttribute("role", "status");
      found.setAttribute("aria-live", "polite");
      document.body.appendChild(found);
    }
    return found;
  }

  function badge() {
    var link = document.querySelector('.topbar a[href="/desk"]');
    if (!link) { return; }
    var mark = link.querySelector("[data-watch-badge]");
    if (!mark) {
      mark = document.createElement("span");
      mark.className = "badge watch-badge";
      mark.dataset.watchBadge = "";
      link.appendChild(document.createTextNode(" "));
      link.appendChild(mark);
    }
    mark.textContent = String(unseen);
    mark.title = unseen + " change" + (unseen === 1 ? "" : "s") + " on tickets you watch";
  }

  function toast(info) {
    var id = parseInt(info.ticketId, 10);
    if (isNaN(id)) { return; }
    var item = document.createElement("p");
    item.className = "flash flash-info toast";
    item.dataset.watchToast = String(id);
    var link = document.createElement("a");
    link.href = "/desk/tickets/" + id;
    link.textContent = String(info.number || "Ticket " + id);
    item.appendChild(document.createTextNode("Watched ticket "));
    item.appendChild(link);
    item.appendChild(document.createTextNode(": " + String(info.change || "changed") + " "));
    var close = document.createElement("button");
    close.type = "button";
    close.className = "link";
    close.textContent = "Dismiss";
    close.addEventListener("click", function () { item.remove(); });
    item.appendChild(close);
    var all = box();
    all.appendChild(item);
    while (all.children.length > 4) { all.removeChild(all.firstChild); }
    setTimeout(function () { item.remove(); }, 12000);
  }

  document.addEventListener("ticketry:watched", function (event) {
    var info;
    try { info = JSON.parse(event.detail); } catch (error) { return; }
    if (!info || typeof info !== "object") { return; }
    unseen += 1;
    badge();
    toast(info);
  });
})();
