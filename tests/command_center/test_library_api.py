"""The resource library over HTTP on both databases: records staff add a PDF Act and a Markdown SOP, every
officer finds them by words of their text (with a snippet), reads the file and the pinned list; a copy of
a stored file, a file that is no document and a hotel key are refused; each change is audited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from command_center.security.permissions import Role
from tests.command_center.helpers import Served
from tests.command_center.records_helpers import REASON, audited, client


def pdf_of(lines: list[str]) -> bytes:
    """A one-page PDF whose text is ``lines`` (Helvetica), written out object by object."""
    text = "\n".join(f"({line}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td\n{text}\nET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


ACT = pdf_of(
    [
        "The Anti-Terrorism Act, 1997",
        "Section 11EE: proscribed persons shall report to the police station",
        "Section 21: a person who harbours a proscribed person commits an offence",
    ]
)
SOP = (
    "# SOP: missing child\n\n"
    "Alert every hotel in the district and check the bus terminal CCTV within an hour.\n"
)


async def add(http: httpx.AsyncClient, name: str, data: bytes, kind: str, **form: Any) -> httpx.Response:
    fields = {"title": form.pop("title", name), "category": form.pop("category", "act"), **form}
    return await http.post("/library", data=fields, files={"file": (name, data, kind)})


async def test_staff_add_documents_and_every_officer_finds_them_by_their_words(served: Served) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    officer = await client(served, Role.PATROL_OFFICER)
    async with clerk, officer:
        act = await add(clerk, "ata-1997.pdf", ACT, "application/pdf", issued_on="1997-08-20")
        assert act.status_code == 201, act.text
        extra = {"category": "sop", "title": "SOP missing child", "pinned": "true"}
        sop = await add(clerk, "missing-child.md", SOP.encode(), "text/markdown", **extra)
        assert sop.status_code == 201, sop.text
        act_id, sop_id = act.json()["id"], sop.json()["id"]

        found = (await officer.get("/library/search", params={"q": "harbours proscribed"})).json()
        assert [d["id"] for d in found] == [act_id]
        assert "[harbours]" in found[0]["snippet"] and "[proscribed]" in found[0]["snippet"]
        assert (await officer.get("/library/search", params={"q": "bus terminal"})).json()[0]["id"] == sop_id
        assert (await officer.get("/library/search", params={"q": "hijacking"})).json() == []
        only_sops = await officer.get("/library/search", params={"q": "proscribed", "category": "sop"})
        assert only_sops.json() == []
        # Words typed as they come, quotes and operators included, are words and nothing else.
        odd = await officer.get("/library/search", params={"q": '"Section 21" OR -x* NEAR('})
        assert odd.status_code == 200, odd.text

        pinned = (await officer.get("/library", params={"pinned": "true"})).json()
        assert [d["id"] for d in pinned["documents"]] == [sop_id]
        file = await officer.get(f"/library/{act_id}/file")
        assert file.status_code == 200 and file.content == ACT
        assert file.headers["content-type"] == "application/pdf"
        assert (await officer.get(f"/library/{sop_id}/file")).text == SOP

        pin = await clerk.patch(f"/library/{act_id}", json={"pinned": True})
        assert pin.status_code == 200 and pin.json()["pinned"] is True
        refused = await officer.patch(f"/library/{act_id}", json={"pinned": False})
        assert refused.status_code == 403
        gone = await clerk.delete(f"/library/{sop_id}", params=REASON)
        assert gone.status_code == 200
        assert (await officer.get(f"/library/{sop_id}")).status_code == 404
        assert (await officer.get("/library/search", params={"q": "bus terminal"})).json() == []
    assert [e.target for e in audited(served, "library.add")] == [f"document:{sop_id}", f"document:{act_id}"]
    assert audited(served, "library.pin", f"document:{act_id}")
    assert audited(served, "library.remove", f"document:{sop_id}")[0].reason == REASON["reason"]


@pytest.mark.parametrize(
    ("name", "data", "kind", "status", "says"),
    [
        ("photo.jpg", b"\xff\xd8\xff\xe0", "image/jpeg", 415, "upload a PDF"),
        ("broken.pdf", b"%PDF-1.4 not really", "application/pdf", 422, "the PDF cannot be read"),
        ("latin1.txt", "Qan\xfbn".encode("latin-1"), "text/plain", 422, "not UTF-8"),
        ("empty.txt", b"", "text/plain", 422, "empty"),
    ],
)
async def test_what_is_no_document_is_refused_with_its_reason(
    served: Served, name: str, data: bytes, kind: str, status: int, says: str
) -> None:
    async with await client(served, Role.SUPERVISOR) as supervisor:
        refused = await add(supervisor, name, data, kind)
        assert refused.status_code == status and says in refused.text, refused.text
        assert (await supervisor.get("/library")).json()["total"] == 0


async def test_the_same_file_twice_is_refused_naming_the_first(served: Served) -> None:
    async with await client(served, Role.ADMIN) as admin:
        first = await add(admin, "ata.pdf", ACT, "application/pdf")
        again = await add(admin, "copy-of-ata.pdf", ACT, "application/pdf", title="ATA again")
        assert again.status_code == 409 and f"document {first.json()['id']}" in again.text
        assert (await admin.get("/library")).json()["total"] == 1
