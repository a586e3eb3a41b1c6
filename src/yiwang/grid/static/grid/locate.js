// Fill the report's #lat/#lng from the phone's position. The map (web/map.js) and typing stay as
// the fallback, so the form works where geolocation is refused or unavailable (e.g. plain HTTP).
(function () {
  var button = document.getElementById("locate");
  var status = document.getElementById("locate-status");
  var lat = document.getElementById("lat"), lng = document.getElementById("lng");
  if (!button || !lat || !lng) { return; }
  if (!navigator.geolocation) { status.textContent = button.dataset.failed; button.disabled = true; return; }
  var locate = function () {
    status.textContent = button.dataset.waiting;
    navigator.geolocation.getCurrentPosition(function (pos) {
      lat.value = pos.coords.latitude.toFixed(6); lng.value = pos.coords.longitude.toFixed(6);
      lng.dispatchEvent(new Event("change"));  // web/map.js moves the pin
      status.textContent = button.dataset.done + " ±" + Math.round(pos.coords.accuracy) + " m";
    }, function () { status.textContent = button.dataset.failed; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  };
  button.addEventListener("click", locate);
  if (!lat.value && !lng.value) { locate(); }
})();
