// Row menus: the "..." button of a list row, or a right-click anywhere on the row, opens that row's
// commands. The menu is read from the hub for the person opening it (their role greys commands out)
// and drawn in one box outside the table, so a live push that redraws the row leaves it open and
// clickable; when the pushed row is the menu's own, the menu is read again, so it shows the new state.
(function () {
  "use strict";
  var box = null;
  var openRowId = "";
  var openRow = null;
  var openUrl = "";
  var request = 0;

  function menuBox() {
    if (!box) {
      box = document.createElement("div");
      box.id = "row-menu";
      box.className = "row-menu-popup";
      box.hidden = true;
      document.body.appendChild(box);
    }
    return box;
  }

  function buttonOf(rowId) {
    var row = rowId && document.getElementById(rowId);
    return row ? row.querySelector("[data-row-menu]") : null;
  }

  function withNext(url) {
    // A command's blade returns to the page the menu was opened on.
    return url + (url.indexOf("?") < 0 ? "?" : "&") + "next=" + encodeURIComponent(location.pathname + location.search);
  }

  function load(keepFocus) {
    var ticket = ++request;
    return fetch(withNext(openUrl), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        // Only the latest answer counts, and an unchanged menu is left alone so a click in progress lands.
        if (ticket !== request || menuBox().hidden || menuBox().innerHTML === html) return;
        menuBox().innerHTML = html;
        place();
        if (!keepFocus) focusFirst();
      })
      .catch(function () {
        if (ticket === request) menuBox().innerHTML = '<p class="reason row-menu-error">The menu could not be loaded. Try again.</p>';
      });
  }

  function focusFirst() {
    var first = menuBox().querySelector("a[role=menuitem]");
    if (first) first.focus({ preventScroll: true });
  }

  // Where the menu hangs: under the "..." button, right-aligned to it, or at the right-click's point.
  // Placed again whenever its content changes, as its width follows its commands.
  var anchor = null;

  function place() {
    var popup = menuBox();
    if (!anchor) return;
    popup.style.left = "0px";  // measured where nothing squeezes it: its width is then its content's
    var width = popup.offsetWidth;
    var left = anchor.alignRight ? anchor.x - width : anchor.x;
    var maxLeft = window.scrollX + document.documentElement.clientWidth - width - 8;
    popup.style.left = Math.max(window.scrollX + 8, Math.min(left, maxLeft)) + "px";
    popup.style.top = anchor.y + "px";
  }

  function open(button, x, y) {
    var row = button.closest("tr");
    close();
    openRowId = row ? row.id : "";
    openRow = row;
    openUrl = button.dataset.rowMenu;
    var popup = menuBox();
    popup.innerHTML = '<p class="muted row-menu-loading">Loading…</p>';
    popup.hidden = false;
    popup.dataset.row = openRowId;
    button.setAttribute("aria-expanded", "true");
    if (x === undefined) {
      var rect = button.getBoundingClientRect();
      anchor = { x: window.scrollX + rect.right, y: window.scrollY + rect.bottom + 2, alignRight: true };
    } else {
      anchor = { x: x, y: y, alignRight: false };
    }
    place();
    load(false);
  }

  function close() {
    if (!box || box.hidden) return;
    box.hidden = true;
    box.innerHTML = "";
    var button = buttonOf(openRowId);
    if (button) button.setAttribute("aria-expanded", "false");
    openRowId = "";
    openRow = null;
    openUrl = "";
    request++;
  }

  function rowRedrawn() {
    // The row was replaced: its new button says the menu is open, and the menu shows the new state.
    if (!openUrl) return;
    var button = buttonOf(openRowId);
    if (button) button.setAttribute("aria-expanded", "true");
    load(true);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-row-menu]");
    if (button) {
      event.preventDefault();
      if (!menuBox().hidden && menuBox().dataset.row === (button.closest("tr") || {}).id) close();
      else open(button);
      return;
    }
    if (box && !box.hidden && !box.contains(event.target)) close();
  });

  document.addEventListener("contextmenu", function (event) {
    var row = event.target.closest("tr");
    var button = row && row.querySelector("[data-row-menu]");
    // Anywhere on the row, its name's link too ("Right-click the VM"); Shift keeps the browser's own menu.
    if (!button || event.shiftKey || event.target.closest("input, textarea, select")) return;
    event.preventDefault();
    open(button, event.pageX, event.pageY);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !box || box.hidden) return;
    var button = buttonOf(openRowId);
    close();
    if (button) button.focus();
  });

  // Live pushes (static/hub/live.js) and htmx row refreshes replace rows with new elements.
  new MutationObserver(function () {
    if (!openRowId) return;
    var row = document.getElementById(openRowId);
    if (!row) return close();  // the row left the list (its server was removed, say)
    if (row !== openRow) {
      openRow = row;
      rowRedrawn();
    }
  }).observe(document.body, { childList: true, subtree: true });
})();
