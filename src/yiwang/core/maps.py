"""The maps' base layer, configured once for every Leaflet map in yiwang.

Three cases, in this order:

- ``YIWANG_TILE_URL``: any XYZ tile server (``https://tiles.example.gov.cn/{z}/{x}/{y}.png``; ``{s}``
  takes ``YIWANG_TILE_SUBDOMAINS``), with ``YIWANG_TILE_ATTRIBUTION``;
- ``YIWANG_TIANDITU_KEY``: 天地图 (the national map service; a key from lbs.tianditu.gov.cn), its vector
  map with the Chinese label layer on top, in Web Mercator (``_w``) as Leaflet expects;
- neither (a closed network, the demo): no tiles; maps draw the grid outlines as their base
  (``outlines()``, served at /maps/outlines.json) under yiwang's own points.

Pages read the layers from the ``map-base`` JSON in the base template (web/map.js), so no view needs
to know which case applies, and the Content-Security-Policy allows exactly the hosts named here.
"""

from __future__ import annotations

from django.conf import settings

TIANDITU = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=")


def base_layers() -> list[dict]:
    """The tile layers under every map, bottom first: [{url, subdomains, attribution, max_zoom}]."""
    url = getattr(settings, "YIWANG_TILE_URL", "")
    if url:
        return [{"url": url, "subdomains": getattr(settings, "YIWANG_TILE_SUBDOMAINS", "abc"),
                 "attribution": getattr(settings, "YIWANG_TILE_ATTRIBUTION", ""), "max_zoom": 19}]
    key = getattr(settings, "YIWANG_TIANDITU_KEY", "")
    if key:
        # 天地图's label layer (cva) is separate from the map (vec): both, the labels on top.
        return [{"url": TIANDITU.replace("{layer}", layer) + key, "subdomains": "01234567",
                 "attribution": "© 天地图", "max_zoom": 18} for layer in ("vec", "cva")]
    return []


def tile_urls() -> list[str]:
    """The URL templates the CSP's img-src must allow."""
    return [layer["url"] for layer in base_layers()]


def outlines(tolerance: float = 0.00005) -> dict:
    """The grid outlines as one GeoJSON FeatureCollection, simplified (about 5 m) to keep it light."""
    from shapely.geometry import mapping, shape

    from yiwang.org.selectors import region_outlines

    features = []
    for feature in region_outlines(level="grid"):
        geometry = shape(feature["geometry"]).simplify(tolerance, preserve_topology=True)
        features.append({**feature, "geometry": mapping(geometry)})
    return {"type": "FeatureCollection", "features": features}


def centre() -> list[float]:
    """Where a map with nothing to show opens: the district's centre (org.district.map_centre)."""
    from yiwang.org.district import map_centre

    return map_centre()
