// The Inject fault form: the scope list offers only the resources the chosen fault goes on, and only
// the chosen fault's parameters show. The server checks the same (faults/forms.py).
(function () {
  "use strict";
  var form = document.getElementById("inject-fault");
  if (!form) return;
  var kind = form.querySelector("[name=kind]");
  var scope = form.querySelector("[data-fault-scope]");
  var scopeKinds = JSON.parse(form.dataset.scopeKinds || "{}");

  function update() {
    var allowed = scopeKinds[kind.value] || [];
    scope.querySelectorAll("optgroup").forEach(function (group) {
      var shown = allowed.indexOf(group.dataset.scopeKind) !== -1;
      group.hidden = !shown;
      group.disabled = !shown;
    });
    var chosen = scope.selectedOptions[0];
    if (chosen && chosen.dataset.scopeKind && allowed.indexOf(chosen.dataset.scopeKind) === -1) scope.value = "";
    form.querySelectorAll("[data-fault-parameter]").forEach(function (box) {
      box.hidden = box.dataset.faultParameter !== kind.value;
    });
  }
  kind.addEventListener("change", update);
  update();
})();
