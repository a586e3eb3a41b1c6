"""Static files as `yiwang serve` sends them: collected, gzip-precompressed, cacheable."""

from django.core.management import call_command
from django.test import Client


def test_the_echarts_bundle_goes_out_gzip_compressed(settings, tmp_path, db):
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (tmp_path / "static" / "vendor" / "echarts.min.js.gz").exists()
    response = Client().get("/static/vendor/echarts.min.js", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert int(response["Content-Length"]) < 250 * 1024
    assert "max-age" in response["Cache-Control"]


def test_a_client_without_gzip_gets_the_plain_file(settings, tmp_path, db):
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    response = Client().get("/static/web/site.css")
    assert response.status_code == 200 and not response.has_header("Content-Encoding")
    served = b"".join(response.streaming_content)
    assert served == (tmp_path / "static" / "web" / "site.css").read_bytes() and served.startswith(b"/*")
