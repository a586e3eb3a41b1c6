// The grouping proposal: choosing another group for a member moves them there at once, so the
// secretary sees the groups as they will be saved. Without JavaScript the selects still save the move.
(function () {
  var form = document.getElementById("grouping");
  if (!form) { return; }

  function recount() {
    form.querySelectorAll("[data-group]").forEach(function (section) {
      section.querySelector("[data-count]").textContent = section.querySelectorAll("li[data-member]").length;
    });
  }

  form.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.classList.contains("move")) { return; }
    var item = select.closest("li");
    var leader = item.closest("[data-group]").querySelector('select[name^="leader-"]');
    if (leader.value === item.dataset.member) { leader.value = ""; }  // a leader who moves away leads no more
    var target = form.querySelector('[data-group="' + select.value + '"] ul');
    target.appendChild(item);
    select.focus();
    recount();
  });

  // A renamed group is renamed in every member's "move to" list too.
  form.querySelectorAll('input[id^="name-"]').forEach(function (input) {
    input.addEventListener("input", function () {
      var index = input.id.slice(5);
      form.querySelectorAll('select.move option[value="' + index + '"]').forEach(function (option) {
        option.textContent = input.value;
      });
    });
  });
})();
