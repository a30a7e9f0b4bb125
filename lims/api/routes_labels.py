"""Labels: printing (PDF or ZPL, controlled reprints) and the scan-back of a printed label."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from lims.api.deps import Reader, SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import ContainerOut, Din, Id
from lims.api.schemas_records import LabelScanIn, PendingLabelOut, PrintIn
from lims.models import User
from lims.services.common import product_by_din
from lims.services.labels import LABELLERS, pending_labels, print_label, verify_label

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["labels"])
Labeller = Annotated[User, Depends(require_roles(*LABELLERS, action="print labels"))]
MEDIA = {"pdf": "application/pdf", "zpl": "text/plain; charset=utf-8"}
LABEL_DOCUMENT: dict[int | str, dict[str, Any]] = {200: {
    "description": "The label exactly as printed and recorded; its print job is in the headers",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "text/plain": {"schema": {"type": "string"}}},
    "headers": {"X-Print-Job": {"description": "Id of the recorded print job",
                                "schema": {"type": "integer"}},
                "X-Content-SHA256": {"description": "Hash of the document",
                                     "schema": {"type": "string"}},
                "X-Reprint": {"description": "true for a reprint", "schema": {"type": "string"}}},
}}


@router.post("/products/{din}/containers/{container_id}/label", response_class=Response,
             responses={**LABEL_DOCUMENT, **errors(401, 403, 404, 409, 422, 502)})
def print_container_label(din: Din, container_id: Id, body: PrintIn,
                          actor: Labeller, session: SessionDep) -> Response:
    """Print a container's label as PDF or ZPL (a reprint needs a reason); it is recorded."""
    result = print_label(session, actor=actor, din=din, container_id=container_id,
                         **body.model_dump())
    job = result.print_job
    return Response(content=result.output, media_type=MEDIA[body.format], headers={
        "X-Print-Job": str(job.id), "X-Content-SHA256": job.content_hash,
        "X-Reprint": str(job.reprint).lower()})


@router.get("/products/{din}/labels/pending", responses=errors(401, 403, 404, 422))
def labels_to_do(din: Din, _user: Reader, session: SessionDep) -> list[PendingLabelOut]:
    """Containers in use whose label is not yet printed, or not yet scanned back."""
    canonical = product_by_din(session, din).din
    return [PendingLabelOut(container=ContainerOut.of(canonical, p.container), kind=p.kind,
                            printed=p.printed) for p in pending_labels(session, canonical)]


@router.post("/products/{din}/labels/verify", responses=errors(401, 403, 404, 422))
def scan_back(din: Din, body: LabelScanIn, actor: Labeller, session: SessionDep
              ) -> ContainerOut:
    """Scan a printed label back to confirm it before the container is used."""
    container = verify_label(session, actor=actor, din=din, scan=body.scan)
    return ContainerOut.of(product_by_din(session, din).din, container)
