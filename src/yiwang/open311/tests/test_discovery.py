"""GET discovery: what this endpoint offers, in JSON and XML."""


def test_it_describes_the_endpoint_in_json(o311, world):
    response, body = o311("discovery.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json; charset=utf-8"
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["formats"] == ["application/json", "text/xml"] and endpoint["type"] == "production"
    assert body["changeset"] and "open311-key" in body["key_service"] and body["contact"]


def test_it_describes_the_endpoint_in_xml(o311, world):
    response, root = o311("discovery.xml")
    assert response["Content-Type"] == "text/xml; charset=utf-8" and root.tag == "discovery"
    endpoint = root.find("endpoints/endpoint")
    assert endpoint.findtext("url") == "http://testserver/open311/v2"
    assert [f.text for f in endpoint.findall("formats/format")] == ["application/json", "text/xml"]


def test_it_refuses_an_unknown_format_in_the_spec_error_shape(client, world):
    response = client.get("/open311/v2/discovery.html")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert response.json()[0]["code"] == 404 and ".html" in response.json()[0]["description"]


def test_it_only_allows_get(client, world):
    response = client.post("/open311/v2/discovery.xml")
    assert response.status_code == 405 and response["Allow"] == "GET"
    assert b"<errors><error><code>405</code>" in response.content
