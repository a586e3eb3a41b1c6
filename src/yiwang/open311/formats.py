"""GeoReport v2 bodies in JSON and XML, and its error format.

Every resource comes in both formats (GeoReport v2 "Formats"); the XML roots and item element names
are the spec's: <services><service>, <service_definition>, <service_requests><request>,
<discovery>, <errors><error>.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from django.http import HttpResponse

FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}

# The element each list item is written as, by the list's own element name.
ITEM = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
        "values": "value", "endpoints": "endpoint", "formats": "format"}

# Characters XML 1.0 cannot carry at all; a report's text may contain them, the XML must not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: object) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list):
        item = ITEM.get(element.tag, "item")
        for child in value:
            _fill(ET.SubElement(element, item), child)
    else:
        element.text = _text(value)


def to_xml(root: str, body: object) -> bytes:
    """``body`` (a list of items or one object) under the element ``root``."""
    element = ET.Element(root)
    _fill(element, body)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def render(fmt: str, root: str, body: object, *, status: int = 200) -> HttpResponse:
    content = to_xml(root, body) if fmt == "xml" else json.dumps(body, ensure_ascii=False).encode("utf-8")
    return HttpResponse(content, status=status, content_type=FORMATS.get(fmt, FORMATS["json"]))


def error(fmt: str, status: int, *descriptions: str) -> HttpResponse:
    """GeoReport v2 errors: a list of {code, description}, code being the HTTP status."""
    body = [{"code": status, "description": text} for text in descriptions]
    return render(fmt if fmt in FORMATS else "json", "errors", body, status=status)
