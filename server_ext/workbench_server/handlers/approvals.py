"""REST: approval gates. /workbench/api/approvals (pending ones the caller may decide),
/workbench/api/runs/<run>/approvals/<step>[/approve|/reject|/link], and the signed-link
route /workbench/api/approvals/link that an e-mail or n8n carries.
"""

from __future__ import annotations

import html
import json
from datetime import timedelta
from typing import Literal

import tornado
from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..approvals.links import MAX_TOKEN_CHARS, verify
from ..approvals.models import ApprovalOut
from ..approvals.service import MAX_REASON_CHARS, ApprovalService, decide_with_token
from .base import WorkbenchHandler
from .pipelines import RUN

STEP = r"(?P<step>[a-z][a-z0-9_]*)"


class DecisionRequest(BaseModel):
    """``reason``: why (required to reject); ``via``: the adapter deciding (panel, cli...)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=MAX_REASON_CHARS)
    via: Literal["rest", "cli", "panel", "mcp"] = "rest"


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    hours: float = Field(168.0, gt=0, le=24 * 90, description="How long the link works.")


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field("", max_length=MAX_TOKEN_CHARS)
    reason: str = Field("", max_length=MAX_REASON_CHARS)


class ApprovalBaseHandler(WorkbenchHandler):
    @property
    def approvals(self) -> ApprovalService:
        return ApprovalService(self.workbench, self.principal)


class PendingHandler(ApprovalBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(TypeAdapter(list[ApprovalOut]).dump_json(self.approvals.pending()))


class ApprovalHandler(ApprovalBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str, step: str) -> None:
        self.write_json(self.approvals.get(run_id, step))


class DecideHandler(ApprovalBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, run_id: str, step: str, action: str) -> None:
        request = DecisionRequest.model_validate_json(self.request.body or b"{}")
        decided = await self.approvals.decide(
            run_id, step, action == "approve", request.reason, request.via
        )
        self.write_json(decided)


class MakeLinkHandler(ApprovalBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, run_id: str, step: str) -> None:
        request = LinkRequest.model_validate_json(self.request.body or b"{}")
        token = self.approvals.link_token(
            run_id, step, request.decision == "approve", timedelta(hours=request.hours)
        )
        self.write_json(
            {"token": token, "path": f"approvals/link?link_token={token}", "hours": request.hours},
            status=201,
        )


class SignedLinkHandler(WorkbenchHandler):
    """The token is the credential: whoever holds a genuine, unexpired link may take the
    one decision it carries, once. No login (an e-mail reader or n8n has none).

    In the URL and the page's form it is ``link_token`` (not ``token``, which
    jupyter-server would take for a login attempt); a JSON body says ``token``.
    """

    def check_xsrf_cookie(self) -> None:
        """No cookie authenticates here: a cross-site form would need the token itself."""

    @allow_unauthenticated
    async def get(self) -> None:
        """A confirmation page: link scanners that fetch links decide nothing."""
        token = self.get_query_argument("link_token", "")
        claims = verify(self.workbench.settings.workbench_home.secrets_key, token)
        what = "Approve" if claims.approve else "Reject"
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.finish(
            "<!doctype html><meta charset=utf-8><title>Workbench approval</title>"
            f"<h1>{what} step {html.escape(claims.step_id)} of run "
            f"{html.escape(claims.run_id)}?</h1>"
            '<form method="post"><input type="hidden" name="link_token" value="'
            f'{html.escape(token)}"><p><label>Reason<br><textarea name="reason" rows="3" '
            f'cols="60"></textarea></label></p><button type="submit">{what}</button></form>'
        )

    @allow_unauthenticated
    async def post(self) -> None:
        kind = self.request.headers.get("Content-Type", "")
        form = kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
        if form:
            request = TokenRequest(
                token=self.get_body_argument("link_token", ""),
                reason=self.get_body_argument("reason", ""),
            )
        else:
            request = TokenRequest.model_validate_json(self.request.body or b"{}")
        decided = await decide_with_token(self.workbench, request.token, request.reason)
        if form:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(
                f"<!doctype html><meta charset=utf-8><p>Step {html.escape(decided.step_id)} "
                f"of run {html.escape(decided.run_id)}: {html.escape(decided.status)}.</p>"
            )
        else:
            self.write_json(json.loads(decided.model_dump_json()))


ROUTES = [
    ("approvals", PendingHandler),
    ("approvals/link", SignedLinkHandler),
    (f"runs/{RUN}/approvals/{STEP}", ApprovalHandler),
    (f"runs/{RUN}/approvals/{STEP}/(?P<action>approve|reject)", DecideHandler),
    (f"runs/{RUN}/approvals/{STEP}/link", MakeLinkHandler),
]
