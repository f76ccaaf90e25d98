// Small behaviours of portal pages that need no round trip (live updates are live.js's).
(function () {
  "use strict";

  // A filter box that filters as you type: <input data-filter-list="#list" data-filter-empty="#none">
  // hides the list's items (data-filter-text) that lack any of the typed words, as the server's filter
  // does on Enter.
  function applyFilter(input) {
    var list = document.querySelector(input.dataset.filterList);
    if (!list) return;
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    list.querySelectorAll("[data-filter-text]").forEach(function (item) {
      var text = item.dataset.filterText;
      var match = words.every(function (word) { return text.indexOf(word) !== -1; });
      item.hidden = !match;
      if (match) shown += 1;
    });
    var empty = input.dataset.filterEmpty && document.querySelector(input.dataset.filterEmpty);
    if (empty) {
      empty.hidden = shown > 0;
      var echo = empty.querySelector("[data-filter-echo]");
      if (echo) echo.textContent = input.value.trim();
    }
  }

  // A select whose chosen option's words appear elsewhere: <select data-mirror-into="#target">, as the
  // Discover blade's "Confirm that the target region for migration is West Europe".
  function mirror(select) {
    var target = document.querySelector(select.dataset.mirrorInto);
    var option = select.options[select.selectedIndex];
    if (target && option) target.textContent = option.text;
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("input[data-filter-list]")) applyFilter(event.target);
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-mirror-into]")) mirror(event.target);
  });
})();
