// Live updates: the hub pushes the same HTML partials its pages render. An element whose id is
// already on the page replaces it; a new one goes where its data-live-insert selector says.
(function () {
  "use strict";
  var url = document.body.dataset.liveUrl;
  if (!url || !window.WebSocket) return;
  var retryDelay = 500;

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

  function apply(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    Array.prototype.slice.call(template.content.children).forEach(function (element) {
      var existing = element.id && document.getElementById(element.id);
      if (existing) {
        // A menu the person has open stays open: a row is pushed again at every replication cycle.
        var open = Array.prototype.map.call(existing.querySelectorAll("details[open][id]"), function (d) { return d.id; });
        existing.replaceWith(element);
        open.forEach(function (id) {
          var again = document.getElementById(id);
          if (again) again.open = true;
        });
      } else {
        var container = element.dataset.liveInsert && document.querySelector(element.dataset.liveInsert);
        if (!container) return;
        var placeholder = container.querySelector(".empty, #no-jobs");
        if (placeholder) placeholder.remove();
        container.prepend(element);
      }
      if (element.dataset.liveToast) toast(element);
      if (window.htmx) window.htmx.process(element);
    });
    document.dispatchEvent(new CustomEvent("hub:live", { detail: { html: html } }));
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + url);
    socket.onopen = function () {
      retryDelay = 500;
      document.body.dataset.live = "connected";
      // What changed before the socket was open was pushed to nobody: parts that matter read again.
      document.dispatchEvent(new CustomEvent("hub:live-open"));
    };
    socket.onmessage = function (event) { apply(event.data); };
    socket.onclose = function () {
      document.body.dataset.live = "disconnected";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    };
  }
  connect();
})();
