"""GET tokens/{token}: the request id a POST's token stands for."""

from .conftest import IN_XFL_G1


def test_a_token_gives_its_request_id_in_json_and_xml(o311, world, api_key):
    _response, (answer,) = o311("requests.json", "post", api_key=api_key, service_code="INC_PARKING", **IN_XFL_G1)
    token = answer["token"]
    response, body = o311(f"tokens/{token}.json")
    assert response.status_code == 200 and body == [{"service_request_id": answer["service_request_id"], "token": token}]
    _response, root = o311(f"tokens/{token}.xml")
    assert root.tag == "service_requests" and root.findtext("request/service_request_id") == answer["service_request_id"]


def test_an_unknown_token_or_one_outside_the_jurisdiction_is_404(o311, world, api_key):
    assert o311("tokens/nope.json")[0].status_code == 404
    _response, (answer,) = o311("requests.json", "post", api_key=api_key, service_code="INC_PARKING", **IN_XFL_G1)
    assert o311(f"tokens/{answer['token']}.json", jurisdiction_id="QH")[0].status_code == 404
