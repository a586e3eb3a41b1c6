"""The XML writer always produces well-formed XML, and public text never shows a phone or ID number."""

import re
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from yiwang.core.idnumber import mask_text
from yiwang.open311.formats import to_xml


@given(st.text())
def test_any_report_text_makes_well_formed_xml(text):
    root = ET.fromstring(to_xml("service_requests", [{"description": text, "lat": None, "x": True}]))
    assert root.find("request/x").text == "true" and root.find("request/lat").text is None


@given(st.text(alphabet="0123456789 号电话：Xx", max_size=60), st.sampled_from(["13800000001", "61040219500101123X"]))
def test_no_mobile_or_id_number_survives(prefix, secret):
    shown = mask_text(prefix + " " + secret + " 请回电")
    assert secret not in shown
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", shown.split(" ", 1)[1])
