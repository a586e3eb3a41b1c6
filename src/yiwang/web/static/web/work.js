// The workbench case panel: after htmx swaps in the result of an action, move focus to its error
// (role=alert) or else to the heading, so keyboard and screen-reader users land on what changed.
document.addEventListener("htmx:afterSettle", function (event) {
  var panel = document.getElementById("panel");
  if (!panel || !panel.contains(event.target)) { return; }
  var target = panel.querySelector("[role=alert]") || panel.querySelector("h1");
  if (target) { target.focus(); }
});

// 常用回复: choosing one fills the reply box, which stays editable. Without JavaScript the choice is
// posted and fills an empty reply on the server (web/workbench.py work_case_act).
document.addEventListener("change", function (event) {
  var select = event.target;
  if (!select.matches || !select.matches("select[data-fills]")) { return; }
  var box = document.getElementById(select.getAttribute("data-fills"));
  var option = select.options[select.selectedIndex];
  if (box && option && option.getAttribute("data-text") !== null) { box.value = option.getAttribute("data-text"); }
});
