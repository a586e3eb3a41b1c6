"""Grid outlines in and out as GeoJSON: round trip, all-or-nothing, errors naming the feature."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from yiwang.core.errors import ValidationFailed
from yiwang.grid.services import grid_outlines_import
from yiwang.org import geo
from yiwang.org.models import Region
from yiwang.testing import square


def feature(code, name, parent, geometry):
    return {"type": "Feature", "properties": {"code": code, "name": name, "parent": parent}, "geometry": geometry}


def collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def export(*args) -> dict:
    out = io.StringIO()
    call_command("grid", "export", *args, stdout=out)
    return json.loads(out.getvalue())


def test_export_then_import_changes_nothing(world):
    exported = export()
    assert [f["properties"]["code"] for f in exported["features"]] == ["KG-DZ-CJC-G1", "KG-DZ-XFL-G1", "KG-DZ-XFL-G2"]
    assert exported["features"][1]["properties"] == {"code": "KG-DZ-XFL-G1", "name": "幸福里第一网格",
                                                      "parent": "KG-DZ-XFL"}
    report = grid_outlines_import(collection=exported)
    assert report.unchanged == ["KG-DZ-CJC-G1", "KG-DZ-XFL-G1", "KG-DZ-XFL-G2"]
    assert export() == exported


def test_export_of_one_community_to_a_file_round_trips_through_the_cli(world, tmp_path):
    path = tmp_path / "xfl.geojson"
    call_command("grid", "export", "--community", "KG-DZ-XFL", "-o", str(path), stdout=io.StringIO())
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {f["properties"]["code"] for f in data["features"]} == {"KG-DZ-XFL-G1", "KG-DZ-XFL-G2"}
    data["features"][0]["geometry"] = square(108.70, 34.40, 0.005)  # shrink G1
    path.write_text(json.dumps(data), encoding="utf-8")
    out = io.StringIO()
    call_command("grid", "import", str(path), stdout=out)
    assert "redrawn 1" in out.getvalue()
    assert Region.objects.get(code="KG-DZ-XFL-G1").boundary == square(108.70, 34.40, 0.005)


def test_a_new_grid_is_created_and_points_in_it_are_located_there(world):
    grid_outlines_import(collection=collection(feature("KG-DZ-CJC-G2", "程家村第二网格", "KG-DZ-CJC",
                                                       square(108.75, 34.40, 0.01))))
    grid = Region.objects.get(code="KG-DZ-CJC-G2")
    assert grid.level == "grid" and grid.parent.code == "KG-DZ-CJC" and grid.lat == pytest.approx(34.405)
    assert geo.locate(34.405, 108.755).grid.code == "KG-DZ-CJC-G2"


def test_one_bad_feature_refuses_the_whole_file_naming_it(world):
    bowtie = {"type": "Polygon", "coordinates": [[[108.75, 34.40], [108.76, 34.41], [108.76, 34.40],
                                                  [108.75, 34.41], [108.75, 34.40]]]}
    with pytest.raises(ValidationFailed) as caught:
        grid_outlines_import(collection=collection(
            feature("KG-DZ-CJC-G2", "第二网格", "KG-DZ-CJC", square(108.75, 34.40, 0.01)),
            feature("KG-DZ-CJC-G3", "第三网格", "KG-DZ-CJC", bowtie),
            feature("KG-DZ-CJC-G4", "第四网格", "NOWHERE", square(108.77, 34.40, 0.01)),
            feature("KG-DZ-XFL", "冒名", "KG-DZ-CJC", square(108.78, 34.40, 0.01)),
            {"type": "Feature", "properties": {"code": "X"}, "geometry": {"type": "Point", "coordinates": [1, 2]}},
        ))
    errors = caught.value.errors
    assert set(errors) == {"features[1].geometry", "features[2].properties.parent", "features[3].properties.code",
                           "features[4].properties.name", "features[4].properties.parent", "features[4].geometry"}
    assert "边界无效" in errors["features[1].geometry"][0]
    assert not Region.objects.filter(code="KG-DZ-CJC-G2").exists()  # the good one was not kept either


@pytest.mark.parametrize("content, message, detail", [
    ("not json", "not valid JSON", ""),
    ('{"type": "Feature"}', "未导入", "type: 文件须为 GeoJSON FeatureCollection。"),
    ('{"type": "FeatureCollection", "features": []}', "未导入", "features: features 须为非空数组。"),
])
def test_the_cli_refuses_a_bad_file_with_a_non_zero_exit(world, tmp_path, content, message, detail):
    path = tmp_path / "bad.geojson"
    path.write_text(content, encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match=message):
        call_command("grid", "import", str(path), stdout=io.StringIO(), stderr=err)
    assert detail in err.getvalue()


def test_a_missing_file_is_a_clear_cli_error(world, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("grid", "import", str(tmp_path / "nope.geojson"))


def test_the_api_lists_grid_outlines_in_the_callers_scope(api):
    mine = api("get", "/grids", "gridder_xfl").json()
    assert {f["properties"]["code"] for f in mine["features"]} == {"KG-DZ-XFL-G1", "KG-DZ-XFL-G2"}
    assert api("get", "/grids?community=KG-DZ-CJC", "handler_dz").json()["features"][0]["properties"]["code"] == \
        "KG-DZ-CJC-G1"
    assert api("get", "/grids", "clerk_spd").json()["features"] == []


def test_the_api_names_a_bad_community(api):
    assert api("get", "/grids?community=NOPE", "handler_dz").status_code == 404
    response = api("get", "/grids?community=KG-DZ", "handler_dz")
    assert response.status_code == 422 and "community" in response.json()["errors"]
