def test_the_openapi_document_is_served(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/cases" in paths
    assert "/api/v1/cases/{number}/actions/{action}" in paths
