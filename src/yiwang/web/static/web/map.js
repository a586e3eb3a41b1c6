// A Leaflet map from a JSON config: {center:[lat,lng], zoom, points:[{lat,lng,label,href,color,radius}], outlines, pick:bool}.
// The base layer is the site's (#map-base, yiwang.core.maps): tiles when configured, else the grid
// outlines from /maps/outlines.json, so a map in a closed network is never a grey square.
// The district's bounds (#map-bounds, org.district; null when not configured) keep every map near the
// district: a resident dragging a phone map cannot lose it on the other side of the world.
// With pick, a click (or Enter on the focused map) sets the hidden #lat/#lng inputs and a marker.
// Maps inside an htmx-swapped panel (the workbench case page) are drawn again after each swap.
(function () {
  var baseEl = document.getElementById("map-base");
  var base = baseEl ? JSON.parse(baseEl.textContent) : [];
  var boundsEl = document.getElementById("map-bounds");
  var limits = boundsEl ? JSON.parse(boundsEl.textContent) : null;
  var outlineStyle = { color: "#57606a", weight: 1, fillOpacity: 0.04, className: "map-outline" };
  function named(f, l) { var tip = document.createElement("span"); tip.textContent = f.properties.name; l.bindTooltip(tip); }
  function baseOutlines(map, fit) {
    fetch("/maps/outlines.json", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.features && data.features.length) {
          var layer = L.geoJSON(data, { style: outlineStyle, onEachFeature: named }).addTo(map);
          layer.bringToBack();
          if (fit) { map.fitBounds(layer.getBounds()); }
        }
      }).catch(function () {});
  }
  function draw(root) {
    root.querySelectorAll("[data-map-config]:not([data-map-ready]), [data-map-json]:not([data-map-ready])").forEach(drawOne);
  }
  function drawOne(el) {
    el.setAttribute("data-map-ready", "");
    // Inside an htmx-swapped panel the config rides on the element itself (data-map-json): htmx
    // re-inserts the panel's <script> tags, so a json_script next to it is not there to read yet.
    var cfg = JSON.parse(el.dataset.mapJson || document.getElementById(el.dataset.mapConfig).textContent);
    var options = { keyboard: true };
    if (limits) {  // half the district's size again on each side: room for a point just outside it
      options.maxBounds = L.latLngBounds(limits).pad(0.5);
      options.maxBoundsViscosity = 1.0;
    }
    var map = L.map(el, options).setView(cfg.center, cfg.zoom || 11);
    base.forEach(function (t) {
      L.tileLayer(t.url, { maxZoom: t.max_zoom || 19, subdomains: t.subdomains || "abc", attribution: t.attribution || "" }).addTo(map);
    });
    if (cfg.outlines && cfg.outlines.length) {  // the page's own outlines (the report page's grids)
      var layer = L.geoJSON({ type: "FeatureCollection", features: cfg.outlines }, {
        style: outlineStyle, onEachFeature: named
      }).addTo(map);
      if (!cfg.points || !cfg.points.length) { map.fitBounds(layer.getBounds()); }
    } else if (!base.length) { baseOutlines(map, !(cfg.points && cfg.points.length)); }
    (cfg.points || []).forEach(function (p) {
      var m = L.circleMarker([p.lat, p.lng], { radius: p.radius || 6, color: p.color || "#b3261e" }).addTo(map);
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
  }
  draw(document);
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
})();
