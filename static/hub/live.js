// Live updates: the hub pushes the same HTML partials its pages render. An element whose id is
// already on the page replaces it; a new one goes where its data-live-insert selector says.
//
// A part of a page that depends on who looks at it (a button a role may not use, say) can't be pushed
// to everyone as one partial. It carries data-live-watch, the ids of pushed partials it follows (a
// job's row, the project bar), and data-live-src, where the page renders it for this user: when one
// of those is pushed, the part reads itself again from there. It also reads itself again each time
// the socket opens, because what changed between the page's render and the socket's subscription was
// pushed to nobody. A part whose content did not change is left alone, so a form being filled keeps
// what the person typed.
(function () {
  "use strict";
  var url = document.body.dataset.liveUrl;
  if (!url || !window.WebSocket) return;
  var retryDelay = 500;
  var refreshTimers = {};
  var refreshRequests = {};

  // Toasts: a notification pushed while its panel is closed. One toast per notification, so a job's
  // completion replaces its own in-progress toast; none over the open notifications panel, which shows
  // the notification itself.
  var TOAST_SECONDS = 8;

  function toastBox() {
    var box = document.getElementById("toasts");
    var bell = document.getElementById("bell");
    if (box && bell && !bell.dataset.toastWatch) {
      bell.dataset.toastWatch = "1";
      bell.addEventListener("toggle", function () { if (bell.open) box.replaceChildren(); });
    }
    return box;
  }

  function toast(notification) {
    var box = toastBox();
    if (!box) return;
    var existing = box.querySelector('[data-toast-for="' + notification.id + '"]');
    var bell = document.getElementById("bell");
    if (bell && bell.open) {
      if (existing) existing.remove();
      return;
    }
    var item = existing || document.createElement("div");
    item.className = "toast " + (notification.dataset.toastLevel || "");
    item.setAttribute("role", "status");
    item.dataset.toastFor = notification.id;
    var words = document.createElement(notification.dataset.toastLink ? "a" : "span");
    words.textContent = notification.dataset.liveToast;
    if (notification.dataset.toastLink) words.href = notification.dataset.toastLink;
    item.replaceChildren(words);
    if (!existing) box.appendChild(item);
    clearTimeout(item.toastTimer);
    item.toastTimer = setTimeout(function () { item.remove(); }, TOAST_SECONDS * 1000);
  }

  function replace(existing, element) {
    // A menu the person has open stays open: a row is pushed again at every replication cycle.
    var open = Array.prototype.map.call(existing.querySelectorAll("details[open][id]"), function (d) { return d.id; });
    existing.replaceWith(element);
    open.forEach(function (id) {
      var again = document.getElementById(id);
      if (again) again.open = true;
    });
    if (window.htmx) window.htmx.process(element);
  }

  // What a part shows, leaving out what differs at every render without meaning a change.
  function signature(element) {
    var copy = element.cloneNode(true);
    copy.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach(function (input) { input.remove(); });
    copy.querySelectorAll("details[open]").forEach(function (details) { details.removeAttribute("open"); });
    copy.classList.remove("htmx-request", "htmx-settling", "htmx-swapping", "htmx-added");
    return copy.outerHTML;
  }

  // What the person entered in a form of a part read again stays entered: the part changed because
  // its job moved on, not because its form should start over (Discover's region and its confirmation).
  function carryInput(from, to) {
    from.querySelectorAll("input, select, textarea").forEach(function (field) {
      if (field.type === "hidden" || field.type === "submit" || !(field.id || field.name)) return;
      var twin = field.id
        ? to.querySelector("#" + CSS.escape(field.id))
        : to.querySelector('[name="' + CSS.escape(field.name) + '"][value="' + CSS.escape(field.value) + '"]');
      if (!twin || twin.tagName !== field.tagName || twin.type !== field.type || twin.disabled) return;
      if (field.type === "checkbox" || field.type === "radio") {
        twin.checked = field.checked;
      } else if (twin.value !== field.value) {
        twin.value = field.value;
        // What mirrors the field (a label naming the chosen region) follows it, as after a person's change.
        twin.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  }

  function refresh(id) {
    var part = document.getElementById(id);
    if (!part) return;
    // Only the newest answer counts: an older one may describe an older state.
    var request = (refreshRequests[id] || 0) + 1;
    refreshRequests[id] = request;
    fetch(part.dataset.liveSrc || location.href, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        var current = document.getElementById(id);
        if (html === null || refreshRequests[id] !== request || !current) return;
        var template = document.createElement("template");
        template.innerHTML = html;
        var fresh = template.content.querySelector("[id='" + id + "']");
        if (fresh && signature(fresh) !== signature(current)) {
          replace(current, fresh);
          carryInput(current, fresh);
        }
      })
      .catch(function () { /* the next push or the next open reads it again */ });
  }

  function scheduleRefresh(part) {
    // Pushes come in bursts (a job's row, then the project it changed): read once after the burst.
    clearTimeout(refreshTimers[part.id]);
    refreshTimers[part.id] = setTimeout(function () { refresh(part.id); }, 150);
  }

  function refreshWatchers(pushedIds) {
    document.querySelectorAll("[data-live-watch][id]").forEach(function (part) {
      var watched = part.dataset.liveWatch.split(/\s+/);
      if (pushedIds === null || watched.some(function (id) { return id && pushedIds.indexOf(id) !== -1; })) {
        scheduleRefresh(part);
      }
    });
  }

  function apply(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    var pushedIds = [];
    Array.prototype.slice.call(template.content.children).forEach(function (element) {
      if (element.id) pushedIds.push(element.id);
      var existing = element.id && document.getElementById(element.id);
      if (existing) {
        replace(existing, element);
      } else {
        var container = element.dataset.liveInsert && document.querySelector(element.dataset.liveInsert);
        if (!container) return;
        var placeholder = container.querySelector(".empty, #no-jobs");
        if (placeholder) placeholder.remove();
        container.prepend(element);
        if (window.htmx) window.htmx.process(element);
      }
      if (element.dataset.liveToast) toast(element);
    });
    refreshWatchers(pushedIds);
    document.dispatchEvent(new CustomEvent("hub:live", { detail: { html: html } }));
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + url);
    socket.onopen = function () {
      retryDelay = 500;
      document.body.dataset.live = "connected";
      // What changed before the socket was open was pushed to nobody: parts that matter read again.
      refreshWatchers(null);
      document.dispatchEvent(new CustomEvent("hub:live-open"));
    };
    socket.onmessage = function (event) { apply(event.data); };
    socket.onclose = function () {
      document.body.dataset.live = "disconnected";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    };
  }
  // After htmx has processed the page, so that what the first answers bring in is processed too.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", connect);
  else connect();
})();
