// A Leaflet map from a JSON config: {tile_url, center:[lat,lng], zoom, points:[{lat,lng,label,href}], pick:bool}.
// With pick, a click (or Enter on the focused map) sets the hidden #lat/#lng inputs and a marker.
(function () {
  document.querySelectorAll("[data-map-config]").forEach(function (el) {
    var cfg = JSON.parse(document.getElementById(el.dataset.mapConfig).textContent);
    var map = L.map(el, { keyboard: true }).setView(cfg.center, cfg.zoom || 11);
    if (cfg.tile_url) { L.tileLayer(cfg.tile_url, { maxZoom: 19 }).addTo(map); }
    if (cfg.outlines && cfg.outlines.length) {  // grid outlines: the map is usable with no tiles at all
      var layer = L.geoJSON({ type: "FeatureCollection", features: cfg.outlines }, {
        style: { color: "#57606a", weight: 1, fillOpacity: 0.04 },
        onEachFeature: function (f, l) {
          var tip = document.createElement("span"); tip.textContent = f.properties.name; l.bindTooltip(tip);
        }
      }).addTo(map);
      if (!cfg.points || !cfg.points.length) { map.fitBounds(layer.getBounds()); }
    }
    (cfg.points || []).forEach(function (p) {
      var m = L.circleMarker([p.lat, p.lng], { radius: 6, color: p.color || "#b3261e" }).addTo(map);
      if (p.label) {  // as text: labels can be what residents typed
        var tip = document.createElement("span"); tip.textContent = p.label; m.bindTooltip(tip);
      }
      if (p.href) { m.on("click", function () { window.location = p.href; }); }
    });
    if (cfg.pick) {
      var marker = null;
      var lat = document.getElementById("lat"), lng = document.getElementById("lng");
      var set = function (ll) {
        lat.value = ll.lat.toFixed(6); lng.value = ll.lng.toFixed(6);
        if (marker) { marker.setLatLng(ll); } else { marker = L.marker(ll).addTo(map); }
        var out = document.getElementById("picked"); if (out) { out.textContent = lat.value + ", " + lng.value; }
      };
      map.on("click", function (e) { set(e.latlng); });
      el.addEventListener("keydown", function (e) { if (e.key === "Enter") { set(map.getCenter()); } });
      if (lat.value && lng.value) { set(L.latLng(+lat.value, +lng.value)); }
      // Typed coordinates, or a "use my position" button filling them in, move the pin too.
      var typed = function () {
        if (lat.value && lng.value && isFinite(+lat.value) && isFinite(+lng.value)) {
          set(L.latLng(+lat.value, +lng.value)); map.panTo([+lat.value, +lng.value]);
        }
      };
      lat.addEventListener("change", typed); lng.addEventListener("change", typed);
    }
  });
})();
