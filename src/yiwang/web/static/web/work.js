// The workbench case panel: after htmx swaps in the result of an action, move focus to its error
// (role=alert) or else to the heading, so keyboard and screen-reader users land on what changed.
document.addEventListener("htmx:afterSettle", function (event) {
  var panel = document.getElementById("panel");
  if (!panel || !panel.contains(event.target)) { return; }
  var target = panel.querySelector("[role=alert]") || panel.querySelector("h1");
  if (target) { target.focus(); }
});
