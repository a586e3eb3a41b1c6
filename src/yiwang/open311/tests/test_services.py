"""GET services and services/{code}: incident categories, and each one's form as attributes."""

import pytest


def test_it_lists_incident_categories_only(o311, streetlight):
    response, body = o311("services.json")
    assert response.status_code == 200
    assert [s["service_code"] for s in body] == ["INC_PARKING", "INC_STREETLIGHT", "INC_THEFT"]
    light = body[1]
    assert light == {"service_code": "INC_STREETLIGHT", "service_name": "路灯故障", "description": "拍照上报路灯故障。",
                     "metadata": True, "type": "realtime", "keywords": "路灯,灯杆", "group": "城市治理"}
    assert body[0]["metadata"] is False  # 乱停车 has no form


def test_it_leaves_out_applications_and_inactive_categories(o311, streetlight):
    streetlight.active = False
    streetlight.save(update_fields=["active"])
    _response, body = o311("services.json")
    codes = {s["service_code"] for s in body}
    assert codes == {"INC_PARKING", "INC_THEFT"}  # no SENIOR_CARD, ASK_MEDICAL, RECT_GRASSROOTS …


def test_it_lists_services_in_xml(o311, streetlight):
    response, root = o311("services.xml")
    assert response["Content-Type"] == "text/xml; charset=utf-8" and root.tag == "services"
    services = root.findall("service")
    assert [s.findtext("service_code") for s in services] == ["INC_PARKING", "INC_STREETLIGHT", "INC_THEFT"]
    assert services[1].findtext("metadata") == "true" and services[0].findtext("metadata") == "false"


def test_it_defines_a_service_by_its_form(o311, streetlight):
    response, body = o311("services/INC_STREETLIGHT.json")
    assert response.status_code == 200 and body["service_code"] == "INC_STREETLIGHT"
    by_code = {a["code"]: a for a in body["attributes"]}
    assert [a["order"] for a in body["attributes"]] == [1, 2, 3, 4, 5, 6]
    assert by_code["fault"] == {
        "variable": True, "code": "fault", "datatype": "singlevaluelist", "required": True,
        "datatype_description": "", "order": 2, "description": "故障现象",
        "values": [{"key": "不亮", "name": "不亮"}, {"key": "闪烁", "name": "闪烁"}],
    }
    assert by_code["lamps_out"]["datatype"] == "number" and by_code["lamps_out"]["required"] is False
    assert by_code["danger"]["datatype"] == "singlevaluelist"
    assert [v["key"] for v in by_code["danger"]["values"]] == ["true", "false"]
    assert by_code["noticed_on"]["datatype"] == "datetime"
    assert by_code["details"]["datatype"] == "text" and by_code["pole_number"]["datatype"] == "string"


def test_it_defines_a_service_in_xml(o311, streetlight):
    _response, root = o311("services/INC_STREETLIGHT.xml")
    assert root.tag == "service_definition" and root.findtext("service_code") == "INC_STREETLIGHT"
    fault = root.findall("attributes/attribute")[1]
    assert fault.findtext("code") == "fault" and fault.findtext("required") == "true"
    assert [v.findtext("key") for v in fault.findall("values/value")] == ["不亮", "闪烁"]


def test_a_service_without_a_form_has_no_attributes(o311, world):
    _response, body = o311("services/INC_PARKING.json")
    assert body == {"service_code": "INC_PARKING", "attributes": []}


@pytest.mark.parametrize("code", ["NOPE", "SENIOR_CARD"])
def test_it_answers_404_for_a_code_that_is_not_a_service(o311, world, code):
    response, body = o311(f"services/{code}.json")
    assert response.status_code == 404 and body[0]["code"] == 404 and code in body[0]["description"]
    assert "attributes" not in response.content.decode()  # no definition, not even an empty one
    response, root = o311(f"services/{code}.xml")
    assert response.status_code == 404 and root.tag == "errors" and root.findtext("error/code") == "404"
    assert code in root.findtext("error/description") and root.find("attributes") is None


def test_an_unknown_jurisdiction_is_404_and_a_known_one_is_accepted(o311, world):
    response, body = o311("services.json", jurisdiction_id="NOWHERE")
    assert response.status_code == 404 and body[0]["code"] == 404 and "NOWHERE" in body[0]["description"]
    assert "INC_PARKING" not in response.content.decode()  # no list of services for a place we do not serve
    response, root = o311("services.xml", jurisdiction_id="NOWHERE")
    assert response.status_code == 404 and root.tag == "errors" and "NOWHERE" in root.findtext("error/description")
    response, body = o311("services.json", jurisdiction_id="KG")
    assert response.status_code == 200 and "INC_PARKING" in {s["service_code"] for s in body}
