"""The demo's blank forms and samples (表格下载): small Word files written here and stored through
catalog.services.document_store, as staff would upload them in the admin."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

from yiwang.catalog.models import Matter
from yiwang.catalog.services import document_store
from yiwang.demo import data

APPLICANT_ROWS = ("申请人姓名", "公民身份号码", "联系电话", "户籍地址", "现居住地址")
SAMPLE_VALUES = {"申请人姓名": "张秀兰", "公民身份号码": "6104**********0028(样例)", "联系电话": "139****0000",
                 "户籍地址": "西咸新区沣东新城三桥街道示例社区", "现居住地址": "同上", "出生日期": "1958-03-16",
                 "申请原因": "年满60周岁，申领老年证", "领取方式(自取/邮寄)": "邮寄", "邮寄地址": "同户籍地址"}

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="word/document.xml"/></Relationships>'
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _para(text: str, *, bold: bool = False, size: int = 24, center: bool = False) -> str:
    props = ('<w:jc w:val="center"/>' if center else "")
    run = f'<w:rPr>{"<w:b/>" if bold else ""}<w:sz w:val="{size}"/></w:rPr>'
    return f"<w:p><w:pPr>{props}</w:pPr><w:r>{run}<w:t xml:space=\"preserve\">{escape(text)}</w:t></w:r></w:p>"


def _cell(text: str, width: int) -> str:
    return f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>{_para(text)}</w:tc>'


def form_docx(title: str, rows: tuple[str, ...], *, sample: bool) -> bytes:
    """A one-page application form: the applicant's rows, the matter's own rows, a signature line."""
    border = "".join(f'<w:{side} w:val="single" w:sz="4" w:space="0" w:color="000000"/>'
                     for side in ("top", "left", "bottom", "right", "insideH", "insideV"))
    table = [f'<w:tbl><w:tblPr><w:tblW w:w="9000" w:type="dxa"/><w:tblBorders>{border}</w:tblBorders></w:tblPr>']
    for label in APPLICANT_ROWS + rows:
        value = SAMPLE_VALUES.get(label, "") if sample else ""
        table.append(f"<w:tr>{_cell(label, 3000)}{_cell(value, 6000)}</w:tr>")
    table.append("</w:tbl>")
    body = [_para(title, bold=True, size=36, center=True),
            _para("西咸新区一网通办 · 可在线填写提交，也可打印后手写交到窗口", size=18, center=True),
            *table,
            _para("本人承诺以上信息真实有效。"),
            _para("申请人(签字)：______________    日期：____年__月__日")]
    if sample:
        body.insert(1, _para("【填写样例】请按此格式填写，本样表不作申请使用", bold=True, center=True))
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}"><w:body>'
                + "".join(body) + "<w:sectPr/></w:body></w:document>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("word/document.xml", document)
    return out.getvalue()


def documents_create() -> int:
    """Store the demo's forms for the matters that exist; returns how many."""
    matters = {m.code: m for m in Matter.objects.filter(code__in={code for code, *_ in data.DOCUMENTS})}
    count = 0
    for position, (code, kind, title, rows) in enumerate(data.DOCUMENTS):
        if code not in matters:
            continue
        document_store(matter=matters[code], title=title, data=form_docx(title, rows, sample=kind == "sample"),
                       filename=f"{title}.docx", kind=kind, position=position)
        count += 1
    return count
