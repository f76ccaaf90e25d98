// The Inject fault form: only the chosen fault's parameters show. The scope list is searched on the
// server for the chosen fault's kinds of resource (htmx, faults/portal.py scope_search).
(function () {
  "use strict";
  var form = document.getElementById("inject-fault");
  if (!form) return;
  var kind = form.querySelector("[name=kind]");

  function update() {
    form.querySelectorAll("[data-fault-parameter]").forEach(function (box) {
      box.hidden = box.dataset.faultParameter !== kind.value;
    });
  }
  kind.addEventListener("change", update);
  update();
  // Enter in the search box searches (its "search" event); it does not submit the half-filled form.
  var search = form.querySelector("[name=scope_search]");
  if (search) {
    search.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      search.dispatchEvent(new Event("search"));
    });
  }
  // A choice made while a search is on its way must not be replaced by that search's older answer.
  form.addEventListener("change", function (event) {
    if (event.target.id !== "id_scope" || !window.htmx) return;
    [kind, search].forEach(function (trigger) {
      if (trigger) window.htmx.trigger(trigger, "htmx:abort");
    });
  });
})();
