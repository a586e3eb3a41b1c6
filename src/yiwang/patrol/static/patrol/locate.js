// Keeps every input[data-geo=lat|lng] filled with the phone's position, so a patrol button sends
// where it was pressed. A value the user typed is left alone; htmx-swapped forms are refilled.
(function () {
  var last = null;
  function fill() {
    if (!last) { return; }
    document.querySelectorAll("input[data-geo]").forEach(function (el) {
      if (!el.dataset.typed) { el.value = last[el.dataset.geo]; }
    });
  }
  function status(text) {  // null: the element's own data-failed message
    document.querySelectorAll("[data-geo-status]").forEach(function (el) {
      el.textContent = text === null ? (el.dataset.failed || "") : text;
    });
  }
  document.addEventListener("input", function (e) {
    if (e.target.dataset && e.target.dataset.geo) { e.target.dataset.typed = "1"; }
  });
  document.addEventListener("htmx:afterSettle", fill);
  if (!navigator.geolocation) { status(null); return; }
  navigator.geolocation.watchPosition(function (pos) {
    last = { lat: pos.coords.latitude.toFixed(6), lng: pos.coords.longitude.toFixed(6) };
    fill();
    status(last.lat + ", " + last.lng);
  }, function () { status(null); }, { enableHighAccuracy: true, maximumAge: 30000 });
})();
