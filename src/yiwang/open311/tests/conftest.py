import json
import xml.etree.ElementTree as ET

import pytest

from yiwang.catalog.services import matter_create
from yiwang.org.models import UnitKind

STREETLIGHT_FORM = {
    "type": "object",
    "properties": {
        "pole_number": {"type": "string", "maxLength": 20, "title": "灯杆编号"},
        "fault": {"type": "string", "enum": ["不亮", "闪烁"], "title": "故障现象"},
        "lamps_out": {"type": "integer", "minimum": 1, "maximum": 50, "title": "不亮的盏数"},
        "danger": {"type": "boolean", "title": "是否有安全隐患"},
        "noticed_on": {"type": "string", "format": "date", "title": "发现日期"},
        "details": {"type": "string", "maxLength": 500, "title": "详细情况"},
    },
    "required": ["fault"],
}
# Inside 幸福里第一网格 (KG-DZ-XFL-G1: the square 108.70–108.71 × 34.40–34.41 of yiwang.testing).
IN_XFL_G1 = {"lat": "34.405", "long": "108.705"}


@pytest.fixture
def streetlight(world):
    """An incident category with a form, so its service definition has attributes."""
    return matter_create(
        code="INC_STREETLIGHT", name="路灯故障", kind="incident", handling_levels=["town", "city"],
        responsible_unit_kind=UnitKind.COMMAND_CENTRE, dispatch_unit_kind=UnitKind.ENFORCEMENT, time_limit=2,
        time_unit="workdays", form_schema=STREETLIGHT_FORM, keywords="路灯 灯杆", life_event="城市治理",
        guide="拍照上报路灯故障。\n写明灯杆编号。",
    )


@pytest.fixture
def api_key(world):
    """A plain api_key for an account made for the key (grid worker at the top command centre)."""
    from yiwang.open311.services import api_key_create

    return api_key_create(name="test-app")[1]


@pytest.fixture
def o311(client):
    """GET or POST /open311/v2/PATH; returns (response, parsed body: JSON value or XML root element)."""

    def call(path, method="get", **params):
        response = getattr(client, method)(f"/open311/v2/{path}", params)
        body = ET.fromstring(response.content) if path.endswith(".xml") else json.loads(response.content)
        return response, body

    return call
