"""Who may call what: the expected answer of every page and API route, for every role, on an object
in the caller's own region and on one in another region. tests/test_authz_matrix.py checks each;
a route without a rule here fails there by name.

A rule has one line per side, a token per role in ROLES order:

    ok     allowed. A read answers 200 (a page may also redirect, but not to the login page); a
           write is not refused: a 4xx for its body or for the object's state is fine, 401/403/404
           is not.
    done   allowed, and the write went through (a row was added or the target row changed).
    quiet  refused by a page (or a bulk call) that answers with a message: 2xx/3xx, nothing changed.
    login  anonymous: a page sends them to the login page.
    401 403 404 422 …  exactly that status, and a write changes nothing. 403 refuses a role;
           404 hides an object outside the caller's scope, so that its existence is not revealed.

Who plays each role is in the test (USERS): staff of 空港新城 (KG) — a community clerk and grid
worker of 幸福里, a town enforcement handler, the city's command-centre operator and leader, and
幸福里's party secretary; a resident of 幸福里; a party member on 幸福里's patrol team with no staff
role ("volunteer"). "own" objects lie in KG: cases of 幸福里 (the resident's own), its grid, its
party branch and patrol team, 空港新城's research topic and rectification batch, a parking zone in
幸福里's grid. "other" objects are the same in 秦汉新城 (QH), outside every one of those regions.
Two more sides lie between those two, and their lines are derived rather than written:
"sibling" objects are the same in 程家村 (KG-DZ-CJC), the other community of 幸福里's town 底张街道;
"cousin" objects the same in 兴华社区 (KG-BD-XH) of 北杜街道 (KG-BD), another town of 空港新城.
Each role reaches from where its staff sit (REACH): the community roles (resident, clerk, grid
worker, secretary, volunteer) reach 幸福里 only, the handler (底张街道综合执法队) the town, the
operator and the leader the city, the superuser everything. A role that reaches a side expects
there what it gets on "own"; one that does not, what it gets on "other". Anonymous expects on
sibling and cousin what it gets on "own": not being signed in does not depend on where an object
lies. A rule names a side's line itself (``sibling=``, ``cousin=``) only where the derivation is
wrong for a reason its ``why`` gives. The same reach decides which sides' text an answer must not
show a role (the test's ``absent``).

An API call is made with the role's bearer token and again from its browser session (cookie and CSRF
token), expecting the same answer; a session write without the CSRF token is refused, 403. A method
that no rule names for a route must be refused (405): a rule is how a method is let in.

A route that takes no object has a single line (``both``): the call is the same for any side. A
route may have more than one rule: "METHOD route · variant" is a second call to the same route,
e.g. an object of one side reached through a route of another (a resident's ID number in an
import into one's own grid).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("anonymous", "resident", "clerk", "handler", "operator", "leader", "grid_worker", "secretary", "volunteer",
         "superuser")
TOKENS = {"ok", "done", "quiet", "login"}
SIDES = ("own", "sibling", "cousin", "other")
COMMUNITY, TOWN, CITY = ("own",), ("own", "sibling"), ("own", "sibling", "cousin")
# The sides each role reaches as it reaches its own (see the docstring).
REACH = {"anonymous": CITY, "resident": COMMUNITY, "clerk": COMMUNITY, "handler": TOWN, "operator": CITY,
         "leader": CITY, "grid_worker": COMMUNITY, "secretary": COMMUNITY, "volunteer": COMMUNITY, "superuser": SIDES}


def reaches(role: str, side: str) -> bool:
    return side in REACH[role]


@dataclass(frozen=True)
class Rule:
    own: tuple[str, ...]
    other: tuple[str, ...] | None = None
    why: str = ""
    sibling: tuple[str, ...] | None = None  # given only where the derivation from reach is wrong
    cousin: tuple[str, ...] | None = None

    def line(self, side: str) -> tuple[str, ...]:
        given = getattr(self, side)
        if given is not None:
            return given
        return tuple(own if reaches(role, side) else other
                     for role, own, other in zip(ROLES, self.own, self.other, strict=True))

    def columns(self):
        """(side, line) for every side the rule covers: own alone for ``both``, else all four."""
        for side in SIDES if self.other is not None else ("own",):
            yield side, self.line(side)


def _tokens(line: str) -> tuple[str, ...]:
    tokens = tuple(line.split())
    assert len(tokens) == len(ROLES), f"{line!r}: {len(tokens)} tokens for {len(ROLES)} roles"
    for token in tokens:
        assert token in TOKENS or (token.isdigit() and len(token) == 3), f"{line!r}: unknown token {token!r}"
    return tokens


def rule(own: str, other: str, why: str = "", *, sibling: str | None = None, cousin: str | None = None) -> Rule:
    return Rule(_tokens(own), _tokens(other), why, sibling=_tokens(sibling) if sibling else None,
                cousin=_tokens(cousin) if cousin else None)


def both(line: str, why: str = "") -> Rule:
    return Rule(_tokens(line), None, why)


# Every route under /admin/ (the Django admin): staff superusers only; everyone else is sent to the
# admin's own login page. The test calls each admin page that takes no parameter, every application's
# index, and every page of every registered model (its add page; its first row's change, delete and
# history pages and any other its ModelAdmin declares), by GET and, but for the superuser, by POST.
ADMIN_PREFIX = "admin/"
ADMIN_RULE = both("302   302   302   302   302   302   302   302   302   ok")

# Lines many rules share.
#                 anon  res   clerk hand  oper  lead  grid  secr  vol   super
PUBLIC = "        ok    ok    ok    ok    ok    ok    ok    ok    ok    ok"
SIGNED_IN_API = " 401   ok    ok    ok    ok    ok    ok    ok    ok    ok"
SIGNED_IN_PAGE = "login ok    ok    ok    ok    ok    ok    ok    ok    ok"
STAFF_PAGE = "    login 403   ok    ok    ok    ok    ok    ok    403   ok"
# An object in another region: hidden from everyone but a superuser.
API_ELSEWHERE = " 401   404   404   404   404   404   404   404   404   ok"
PAGE_ELSEWHERE = "login 403   404   404   404   404   404   404   403   ok"  # staff pages refuse non-staff first
OPEN_PAGE_ELSEWHERE = "login 404   404   404   404   404   404   404   404   ok"  # pages for any signed-in user
QUIET_ELSEWHERE = "login 403  quiet quiet quiet quiet quiet quiet 403   done"  # forms that answer "not found"
LEDGER_FORMS = ("the ledger's forms answer a refusal by showing the form again with the reason, status 422 "
                "(data unchanged); an object outside the caller's scope is 404")
GRID_READ = "        401   404   ok    ok    ok    ok    ok    ok    404   ok"
OPEN311_WRITE = "    done  done  done  done  done  done  done  done  done  done"
CITES_FILE = "       401   422   422   422   422   422   422   422   422   422"
BRANCH_MANAGERS = "  401   404   403   403   403   done  403   done  404   done"
PAIR_ELSEWHERE = "   401   404   403   403   403   422   403   422   404   422"
PAGE_PAIR_ELSEWHERE = "login 403   quiet quiet quiet quiet quiet quiet 403   quiet"

RULES: dict[str, Rule] = {
    # --- the API: who is asking, regions, units, the catalogue -----------------------------------
    "GET /api/v1/me": both(SIGNED_IN_API),
    "GET /api/v1/regions": both(PUBLIC),
    "GET /api/v1/units": both(SIGNED_IN_API),
    "POST /api/v1/session": both(PUBLIC, "logging in (with a clerk's password) is for anyone"),
    "DELETE /api/v1/session": both(SIGNED_IN_API),
    "GET /api/v1/matters": both(PUBLIC),
    "GET /api/v1/matters/{code}": both(PUBLIC),
    # --- checkpoints and receipts (docs/checkpoints.md): public by design, hashes and case numbers only ---
    "GET /api/v1/public/checkpoints": both(PUBLIC, "signed roots anyone may check"),
    "GET /api/v1/public/checkpoints/{checkpoint_number}": both(PUBLIC),
    "GET /api/v1/public/signing-key": both(PUBLIC, "the public key an outsider checks a checkpoint with"),
    "GET checkpoints": both(PUBLIC),
    "GET checkpoint_file": both(PUBLIC, "the file for an outside archive: every case's number and hash, no one's data"),
    "GET receipt_check": both(PUBLIC, "a receipt's number and hash checked; the answer is yes or no"),
    "GET api:openapi-json": both(PUBLIC),
    "GET api:openapi-view": both(PUBLIC),
    "GET api:api-root": both("404 404 404 404 404 404 404 404 404 404", "nothing lives at /api/v1/ itself"),
    # --- cases -------------------------------------------------------------------------------------
    "POST /api/v1/cases": rule(
        "401   done  done  done  done  done  done  done  403   done",
        "401   done  done  done  done  done  done  done  403   done",
        "a resident applies for themself, staff for a resident (代办), for any region (通办); an account that "
        "is neither is refused"),
    "POST /api/v1/uploads": both(
        "401   done  done  done  done  done  done  done  403   done",
        "whoever may apply uploads a material's file, bound to them alone; an account that is neither is refused"),
    "GET /api/v1/cases": both(SIGNED_IN_API, "a list: the other region's cases must not be in it"),
    "GET /api/v1/cases/{number}": rule(
        "401   ok    ok    ok    ok    ok    ok    ok    404   ok", API_ELSEWHERE),
    "POST /api/v1/cases/{number}/actions/{action}": rule(
        "401   403   done  403   403   403   403   403   404   done", API_ELSEWHERE,
        "受理 (accept) is for the clerks and handlers of the holding unit; others who can see the case are refused"),
    "POST /api/v1/cases/{number}/evaluation": rule(
        "401   done  403   403   403   403   403   403   404   403",
        "401   404   404   404   404   404   404   404   404   403",
        "only the applicant rates a finished case online, not even a superuser"),
    "GET /api/v1/cases/{number}/evaluation": rule(
        "401   ok    ok    ok    ok    ok    ok    ok    404   ok", API_ELSEWHERE),
    "POST /api/v1/cases/{number}/reveal-id": rule(
        "401   403   done  403   403   403   done  403   404   done",
        "401   404   404   404   404   404   404   404   404   422",
        "staff of the holding or handling unit (幸福里's hall: its clerk and grid worker), on the record; the other "
        "applicant has no ID number on file, hence the superuser's 422"),
    # --- grids -------------------------------------------------------------------------------------
    "GET /api/v1/grids": both(SIGNED_IN_API, "a list: the other region's grids must not be in it"),
    "GET /api/v1/grids/{code}": rule(GRID_READ, API_ELSEWHERE),
    "POST /api/v1/grids/imports": rule(
        "401   403   done  done  done  done  done  done  403   done",
        "401   403   422   422   422   422   422   422   403   done",
        "staff keep the basic data of the grids in their regions; a row for another region's grid is refused "
        "like an unknown grid (422, nothing written)"),
    "POST /api/v1/cameras/{code}/alerts": rule(
        "401   403   done  done  done  done  done  done  403   done",
        "401   403   403   403   403   403   403   403   403   done",
        "an integrator's token must be of staff over the camera's region: another region's camera is refused, "
        "403 (src/yiwang/grid/tests/test_camera_alert.py)"),
    # --- the command centre --------------------------------------------------------------------------
    "GET /api/v1/command/board": both(
        "401   403   403   403   ok    403   403   403   403   ok", "operators only; no other region's case on it"),
    "POST /api/v1/command/dispatch": rule(
        "401   403   403   403   done  403   403   403   403   done",
        "401   403   403   403   quiet 403   403   403   403   done",
        "operators only; a case outside the operator's scope comes back in the list as not dispatched"),
    "POST /api/v1/dispatch/suggest": rule(
        "401   403   ok    ok    ok    ok    ok    ok    403   ok",
        "401   403   404   404   404   404   404   404   403   ok",
        "staff only; a region outside their scope reads as unknown"),
    # --- patrol --------------------------------------------------------------------------------------
    "GET /api/v1/patrol/teams": both(SIGNED_IN_API, "a list: the other region's team must not be in it"),
    "GET /api/v1/patrol/teams/{team_id}/shifts": rule(
        "401   404   ok    ok    ok    ok    ok    ok    ok    ok", API_ELSEWHERE),
    "GET /api/v1/patrol/teams/{team_id}/shifts/generate": rule(
        "401   404   403   403   ok    ok    403   ok    403   ok", API_ELSEWHERE,
        "drawing shifts is for the team's secretary, or an operator or leader over its region"),
    "POST /api/v1/patrol/teams/{team_id}/shifts/generate": rule(
        "401   404   403   403   done  done  403   done  403   done", API_ELSEWHERE),
    "POST /api/v1/patrol/logs": rule(
        "401   404   403   403   403   403   403   403   done  403",
        "401   404   404   404   404   404   404   404   404   403",
        "only a member of the shift sets out on it, not even a superuser"),
    "GET /api/v1/patrol/logs/{log_id}": rule(
        "401   404   ok    ok    ok    ok    ok    ok    ok    ok", API_ELSEWHERE),
    "POST /api/v1/patrol/logs/{log_id}/check-ins": rule(
        "401   404   403   403   403   403   403   403   done  403",
        "401   404   404   404   404   404   404   404   404   403",
        "only who walks a patrol writes to its log"),
    "POST /api/v1/patrol/logs/{log_id}/finish": rule(
        "401   404   403   403   403   403   403   403   done  403",
        "401   404   404   404   404   404   404   404   404   403"),
    "POST /api/v1/patrol/logs/{log_id}/findings": rule(
        "401   404   403   403   403   403   403   403   done  403",
        "401   404   404   404   404   404   404   404   404   403"),
    # --- the ledger ----------------------------------------------------------------------------------
    "GET /api/v1/ledger/topics": both(SIGNED_IN_API, "a list: the other region's topic must not be in it"),
    "GET /api/v1/ledger/topics/counts": both(SIGNED_IN_API),
    "POST /api/v1/ledger/topics": rule(
        "401   403   403   403   403   done  403   403   403   done",
        "401   403   403   403   403   403   403   403   403   done",
        "a leader registers a topic for a unit of their region"),
    "GET /api/v1/ledger/topics/{topic_id}": rule(
        "401   404   404   404   ok    ok    404   404   404   ok", API_ELSEWHERE,
        "the topic is the city's (空港新城管委会): a community's or a town's staff do not see it"),
    "GET /api/v1/ledger/topics/{topic_id}/visits": rule(
        "401   404   404   404   ok    ok    404   404   404   ok", API_ELSEWHERE),
    "POST /api/v1/ledger/topics/{topic_id}/visits": rule(
        "401   403   404   404   403   done  404   404   403   done",
        "401   403   404   404   404   404   404   404   403   done",
        "the topic's unit or its leader records visits; a resident or volunteer is refused as not staff first"),
    "POST /api/v1/ledger/visits/{visit_id}/items": rule(
        "401   403   404   404   403   done  404   404   403   done",
        "401   403   404   404   404   404   404   404   403   done"),
    "GET /api/v1/ledger/batches": both(SIGNED_IN_API, "a list: the other region's batch must not be in it"),
    "POST /api/v1/ledger/batches": rule(
        "401   403   403   403   403   done  403   403   403   done",
        "401   403   403   403   403   403   403   403   403   done",
        "a leader over the batch's region"),
    "GET /api/v1/ledger/batches/{batch_id}": rule(
        "401   404   404   404   ok    ok    404   ok    404   ok", API_ELSEWHERE,
        "a city's batch: its city's staff, and the units holding its items (the secretary's branch)"),
    "GET /api/v1/ledger/batches/{batch_id}/lists": rule(
        "401   404   404   404   ok    ok    404   ok    404   ok", API_ELSEWHERE),
    "GET /api/v1/ledger/batches/{batch_id}/ledger.xlsx": rule(
        "401   404   404   404   ok    ok    404   ok    404   ok", API_ELSEWHERE),
    "GET /api/v1/ledger/batches/{batch_id}/ledger.pdf": rule(
        "401   404   404   404   ok    ok    404   ok    404   ok", API_ELSEWHERE),
    "POST /api/v1/ledger/batches/{batch_id}/accept": rule(
        "401   403   404   404   403   422   404   403   403   422",
        "401   403   404   404   404   404   404   404   403   422",
        "the accepting unit or a leader over the region; not every item has passed yet, hence 422"),
    "POST /api/v1/ledger/batches/{batch_id}/lists": rule(
        "401   403   404   404   403   done  404   403   403   done",
        "401   403   404   404   404   404   404   404   403   done"),
    "GET /api/v1/ledger/items": rule(
        "401   404   404   404   ok    ok    404   ok    404   ok", API_ELSEWHERE, "the items of a batch"),
    "POST /api/v1/ledger/lists/{list_id}/items": rule(
        "401   403   403   403   403   done  403   403   403   done",
        "401   403   404   404   404   404   404   404   403   done",
        "the list is 幸福里's: its staff see it, a leader over it adds items"),
    "GET /api/v1/ledger/items/{item_id}": rule(GRID_READ, API_ELSEWHERE),
    # --- party -------------------------------------------------------------------------------------
    "GET /api/v1/party/branches": both(SIGNED_IN_API, "a list: the other region's branch must not be in it"),
    "GET /api/v1/party/branches/{code}": rule(GRID_READ, API_ELSEWHERE),
    "GET /api/v1/party/branches/{code}/grouping": rule(GRID_READ, API_ELSEWHERE),
    "POST /api/v1/party/branches/{code}/members": rule(
        "401   404   403   403   403   done  403   done  404   done", API_ELSEWHERE,
        "the branch's secretary or a leader over its region keeps its records"),
    "PATCH /api/v1/party/members/{member_id}": rule(
        "401   404   403   403   403   done  403   done  404   done", API_ELSEWHERE),
    "POST /api/v1/party/members/{member_id}/deactivate": rule(
        "401   404   403   403   403   done  403   done  404   done", API_ELSEWHERE),
    "PUT /api/v1/party/branches/{code}/groups": rule(
        "401   404   403   403   403   done  403   done  404   done", API_ELSEWHERE),
    "POST /api/v1/party/branches/{code}/pairs": rule(
        "401   404   403   403   403   done  403   done  404   done", API_ELSEWHERE),
    "GET /api/v1/party/pairs/{pair_id}": rule(GRID_READ, API_ELSEWHERE),
    "POST /api/v1/party/pairs/{pair_id}/visits": rule(
        "401   404   403   403   403   403   403   done  404   done", API_ELSEWHERE,
        "the pair's assistance case is held by the branch: its secretary takes its steps"),
    "POST /api/v1/party/pairs/{pair_id}/measures": rule(
        "401   404   403   403   403   403   403   done  404   done", API_ELSEWHERE),
    "POST /api/v1/party/pairs/{pair_id}/incomes": rule(
        "401   404   403   403   403   403   403   done  404   done", API_ELSEWHERE),
    "POST /api/v1/party/pairs/{pair_id}/exit": rule(
        "401   404   403   403   403   403   403   done  404   done", API_ELSEWHERE),
    "POST /api/v1/party/pairs/{pair_id}/relapse": rule(
        "401   404   403   403   403   403   403   done  404   done", API_ELSEWHERE),
    "POST /api/v1/party/pairs/{pair_id}/end-monitoring": rule(
        "401   404   403   403   403   403   403   done  404   done", API_ELSEWHERE),
    # --- parking -----------------------------------------------------------------------------------
    "GET /api/v1/parking/zones": both(SIGNED_IN_API, "a list: the other region's zone must not be in it"),
    "POST /api/v1/parking/sessions/entry": rule(
        "401   404   done  done  done  done  done  done  404   done", API_ELSEWHERE,
        "any staff member over the zone's region works its gate"),
    "POST /api/v1/parking/sessions/exit": rule(
        "401   404   done  done  done  done  done  done  404   done", API_ELSEWHERE),
    "POST /api/v1/parking/violations": rule(
        "401   403   done  done  done  done  done  done  403   done",
        "401   403   403   403   403   403   403   403   403   done",
        "staff record a violation seen within their regions; a resident may only report one (source report)"),
    "GET /api/v1/parking/violations": both(SIGNED_IN_API, "a list: the other region's violation must not be in it"),
    "GET /api/v1/parking/violations/{violation_id}": rule(GRID_READ, API_ELSEWHERE),
    "POST /api/v1/parking/violations/{violation_id}/penalty": rule(
        "401   404   403   done  403   403   403   403   404   done", API_ELSEWHERE,
        "the enforcement unit the case was dispatched to decides the penalty"),
    "POST /api/v1/parking/penalties/{penalty_id}/payment": rule(
        "401   403   done  done  done  done  done  done  403   done",
        "401   403   404   404   404   404   404   404   403   done",
        "a payment is recorded by staff over the region (or the payment platform's account)"),
    "POST /api/v1/parking/penalties/{penalty_id}/appeal": rule(
        "401   404   done  done  done  done  done  done  404   done", API_ELSEWHERE,
        "staff take an appeal on the party's behalf"),
    "POST /api/v1/parking/appeals/{appeal_id}/decision": rule(
        "401   404   403   403   done  done  403   403   404   done", API_ELSEWHERE,
        "a leader or an operator over the region decides, never who imposed the penalty (回避)"),
    "GET /api/v1/parking/hotspots": both(
        "401   403   403   403   ok    ok    403   403   403   ok", "leaders and operators only"),
    # --- indicators --------------------------------------------------------------------------------
    "GET /api/v1/indicators": rule(
        "401   404   ok    ok    ok    ok    ok    ok    404   ok", API_ELSEWHERE,
        "?region= of the caller's scope; another region reads as unknown, as on the dashboard"),
    # --- the portal --------------------------------------------------------------------------------
    "GET home": both(PUBLIC),
    "POST set_language": both(PUBLIC),
    "POST care": both(PUBLIC, "长辈版 on or off: a display cookie of the visitor's own, back to a page of this site"),
    "GET map_outlines": both(PUBLIC, "the grid outlines under maps without tiles: drawn on the public report page anyway"),
    # For machines (docs/operations.md): whether the process answers and whether it is ready, by check.
    "GET healthz": both(PUBLIC, "the process answers: no database, nothing of anyone"),
    "GET readyz": both(PUBLIC, "which check failed and its counts or ages, for a load balancer; nothing of anyone"),
    "GET metrics": both(PUBLIC, "no YIWANG_METRICS_TOKEN here, and the test client calls from 127.0.0.1, the one "
                                "caller let in without it; the token, another address and a proxy's header are "
                                "refused in tests/test_observability.py"),
    # 公开数据 and the public map (docs/public-figures.md): counts, rates and rounded points of every region
    "GET web:public_figures": both(PUBLIC, "published figures: counts and rates of every region, no case"),
    "GET web:public_map": both(PUBLIC, "incidents at their ~100 m cell's centre, category and state only"),
    "GET /api/v1/public/figures": both(PUBLIC, "as the public figures page"),
    "GET /api/v1/public/incidents": both(PUBLIC, "as the public map page"),
    "GET web:guide": both(PUBLIC),
    "GET web:apply": both(SIGNED_IN_PAGE),
    "POST web:apply": both(
        "login done  done  done  done  done  done  done  quiet done",
        "a resident applies (uploading the materials); staff apply on a resident's behalf; an account that is "
        "neither gets the form back with the refusal"),
    "GET web:case": rule(
        "login ok    ok    ok    ok    ok    ok    ok    404   ok", OPEN_PAGE_ELSEWHERE),
    "POST web:case_action": rule(
        "login done  quiet quiet quiet quiet quiet quiet quiet done",
        "login quiet quiet quiet quiet quiet quiet quiet quiet done",
        "the applicant withdraws their own application; the page answers every refusal with a message"),
    "GET web:case_photo": rule(
        "login 404   ok    ok    ok    ok    ok    ok    404   ok", OPEN_PAGE_ELSEWHERE,
        "an incident's photo, to whoever sees the case (the reporter: the public ones); the resident of "
        "this side did not report this incident"),
    "GET web:case_answer": both(PUBLIC, "已解决吗？ from the SMS link: its signed token, not a session, is the key"),
    "POST web:case_answer": both(PUBLIC, "the reporter's answer through the link; refused for the incident's state"),
    "GET web:case_answer_photo": both(PUBLIC, "the public photos of the incident the SMS link was made for"),
    "GET web:my_cases": both(SIGNED_IN_PAGE, "staff are sent on to their queue"),
    "GET web:inbox": both(SIGNED_IN_PAGE, "the caller's own in-app messages, no id taken; staff are sent on to "
                          "their notifications"),
    "GET web:lookup": both(PUBLIC, "查件 by case number and phone, no account needed"),
    "GET web:lookup_photo": both(PUBLIC, "a public photo of the incident a /lookup/ found: its signed token, "
                                         "made when the number and phone matched, is the key"),
    "GET web:report": both(PUBLIC, "without an account the form asks for a mobile number and its SMS code"),
    "POST web:report": both(
        "422   done  done  done  done  done  done  done  422   done",
        "a resident or staff member reports a problem; anyone else must prove a mobile number by SMS code, "
        "and without one the form comes back refused beside the number, 422"),
    "GET web:halls": both(PUBLIC),
    "GET web:matter_document": both(PUBLIC, "a guide's blank form or sample: public, as the guide is"),
    "GET web:login": both(PUBLIC),
    "POST web:login": both(PUBLIC),
    "GET web:two_factor_setup": both(STAFF_PAGE, "enrolling a second factor is for staff (yiwang.web.two_factor)"),
    "POST web:two_factor_setup": both(STAFF_PAGE, "a wrong or missing first code answers 422 with the form again"),
    "GET web:two_factor_verify": both(STAFF_PAGE, "staff without a device are sent on to enrol"),
    "POST web:two_factor_verify": both(STAFF_PAGE, "a wrong code answers 422 with a message"),
    "GET web:two_factor_recovery": both(STAFF_PAGE, "staff without a device are sent on to enrol"),
    "POST web:two_factor_recovery": both(STAFF_PAGE, "a wrong or missing code or password answers 422 with the form again"),
    "POST web:logout": both(PUBLIC),
    # --- the workbench -----------------------------------------------------------------------------
    "GET web:queue": both(STAFF_PAGE, "the other region's cases must not be in it"),
    "GET web:notifications": both(STAFF_PAGE),
    "POST web:notifications": both(STAFF_PAGE, "marks the caller's units' notifications read"),
    "GET web:preferences": both(STAFF_PAGE, "the caller's own channels: no object to reach"),
    "POST web:preferences": both(STAFF_PAGE, "saves the caller's own channels, nobody else's (no id is taken)"),
    "GET web:signup": both(PUBLIC, "a resident signs up with an SMS code, no account needed"),
    "POST web:signup": both(PUBLIC, "an empty form is refused by field, 422, whoever posts it"),
    "GET web:code_login": both(PUBLIC),
    "POST web:code_login": both(PUBLIC, "an empty form is refused by field, 422, whoever posts it"),
    "GET web:close_account": both(
        "login ok    403   403   403   403   403   403   403   403",
        "注销账号: the signed-in resident's own account, no id taken; an account without a resident record "
        "(staff, a volunteer, the superuser) is refused, 403: staff are closed by an administrator"),
    "POST web:close_account": both(
        "login ok    403   403   403   403   403   403   403   403",
        "without the password the form comes back refused beside it, 422, and nothing is closed"),
    "GET web:work_case": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    "POST web:work_case_act": rule(
        "login 403   done  quiet quiet quiet quiet quiet 403   done", PAGE_ELSEWHERE,
        "受理 by the holding unit's clerk; other staff who see the case get the panel back with the refusal"),
    "POST web:work_case_reveal_id": rule(
        "login 403   done  403   403   403   done  403   403   done",
        "login 403   404   404   404   404   404   404   403   422",
        "as POST /api/v1/cases/{number}/reveal-id"),
    "POST web:work_case_public": rule(
        "login 403   403   done  done  done  403   403   403   done",
        "login 403   403   404   404   404   403   403   403   done",
        "the public map's moderation: operators, handlers and leaders who see the incident; a clerk, a grid "
        "worker or a secretary has no say (403), whatever side the incident lies on"),
    "GET web:work_material": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    # 常见问题 drafts: edited and published by the clerks and handlers who answer consultations, on the
    # consultations they may see (web/faq.py).
    "GET web:faq_list": both("login 403   ok    ok    403   403   403   403   403   ok",
                             "clerks and handlers: the drafts of the consultations they see"),
    "GET web:faq_edit": rule("login 403   ok    ok    403   403   403   403   403   ok",
                             "login 403   404   404   403   403   403   403   403   ok"),
    "POST web:faq_edit": rule(
        "login 403   done  done  403   403   403   403   403   done",
        "login 403   404   404   403   403   403   403   403   done",
        "a draft of a consultation the clerk or handler may see; anyone else's reads as unknown"),
    "GET web:search_misses": both("login 403   403   403   403   403   403   403   403   ok",
                                  "staff holding catalog.add_searchsynonym (as in the admin): here the superuser"),
    "POST web:search_misses": both("login 403   403   403   403   403   403   403   403   done",
                                   "marks a query that found nothing handled, or adds its synonym; same permission"),
    # --- dashboards --------------------------------------------------------------------------------
    "GET stats:dashboard": rule(STAFF_PAGE, PAGE_ELSEWHERE, "?region= outside the caller's scope reads as unknown"),
    "GET stats:export": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    "GET stats:cases": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    "GET stats:cases_export": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    "GET stats:incidents": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    # --- grid pages ----------------------------------------------------------------------------------
    "GET grid:index": both(STAFF_PAGE, "the other region's grids must not be in it"),
    "GET grid:detail": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    "POST grid:detail": rule(
        "login 403   quiet quiet quiet quiet done  quiet 403   done", PAGE_ELSEWHERE,
        "grid workers report from the grid page; other staff get it back with the refusal"),
    "POST grid:reveal_id": rule(
        "login 403   403   403   403   403   done  403   403   done", PAGE_ELSEWHERE,
        "a grid resident's full ID number: grid workers (and administrators), on the access log"),
    # --- command pages -----------------------------------------------------------------------------
    "GET command:board": both("login 403   403   403   ok    403   403   403   403   ok",
                              "operators only; the other region's cases must not be on it"),
    "POST command:dispatch": rule(
        "login 403   403   403   done  403   403   403   403   done",
        "login 403   403   403   quiet 403   403   403   403   done",
        "operators only; another region's case is answered with a message, not dispatched"),
    "POST command:dispatch_bulk": rule(
        "login 403   403   403   done  403   403   403   403   done",
        "login 403   403   403   quiet 403   403   403   403   done"),
    "POST command:merge": rule(
        "login 403   403   403   done  403   403   403   403   done",
        "login 403   403   403   quiet 403   403   403   403   done"),
    # --- patrol pages (any signed-in user: patrol members need not be staff) -------------------------
    "GET patrol:index": both(SIGNED_IN_PAGE, "the other region's team must not be in it"),
    "GET patrol:team": rule(
        "login 404   ok    ok    ok    ok    ok    ok    ok    ok", OPEN_PAGE_ELSEWHERE),
    "POST patrol:team_generate": rule(
        "login 404   quiet quiet done  done  quiet done  quiet done", OPEN_PAGE_ELSEWHERE,
        "the team's secretary, or an operator or leader over its region"),
    "GET patrol:me": both(SIGNED_IN_PAGE),
    "POST patrol:shift_start": rule(
        "login 404   quiet quiet quiet quiet quiet quiet done  quiet",
        "login 404   404   404   404   404   404   404   404   quiet",
        "only a member of the shift sets out on it"),
    "GET patrol:log": rule(
        "login 404   ok    ok    ok    ok    ok    ok    ok    ok", OPEN_PAGE_ELSEWHERE),
    "POST patrol:log_check_in": rule(
        "login 404   quiet quiet quiet quiet quiet quiet done  quiet",
        "login 404   404   404   404   404   404   404   404   quiet",
        "only who walks a patrol writes to its log"),
    "POST patrol:log_finish": rule(
        "login 404   quiet quiet quiet quiet quiet quiet done  quiet",
        "login 404   404   404   404   404   404   404   404   quiet"),
    "POST patrol:finding_create": rule(
        "login 404   quiet quiet quiet quiet quiet quiet done  quiet",
        "login 404   404   404   404   404   404   404   404   quiet"),
    "GET patrol:check_in": both(SIGNED_IN_PAGE),
    "POST patrol:check_in": both(
        "login quiet done  done  done  done  done  done  quiet done",
        "staff check in on a patrol of their own (巡查签到); a resident or a member with no staff role cannot"),
    "POST patrol:check_in_finish": both(SIGNED_IN_PAGE, "ends the caller's own check-in patrol, if any"),
    # --- ledger pages ------------------------------------------------------------------------------
    "GET ledger:index": both(STAFF_PAGE),
    "GET ledger:topics": both(STAFF_PAGE, "the other region's topic must not be in it"),
    "GET ledger:topic_new": both(STAFF_PAGE),
    "POST ledger:topic_new": rule(
        "login 403   422   422   422   done  422   422   403   done",
        "login 403   422   422   422   422   422   422   403   done", LEDGER_FORMS),
    "GET ledger:counts": both(STAFF_PAGE),
    "GET ledger:topic": rule(
        "login 403   404   404   ok    ok    404   404   403   ok", PAGE_ELSEWHERE),
    "POST ledger:topic": rule(
        "login 403   404   404   422   done  404   404   403   done", PAGE_ELSEWHERE, LEDGER_FORMS),
    "POST ledger:visit_item": rule(
        "login 403   404   404   422   done  404   404   403   done", PAGE_ELSEWHERE, LEDGER_FORMS),
    "GET ledger:batch_new": both(STAFF_PAGE),
    "POST ledger:batch_new": rule(
        "login 403   422   422   422   done  422   422   403   done",
        "login 403   422   422   422   422   422   422   403   done", LEDGER_FORMS),
    "GET ledger:batch": rule(
        "login 403   404   404   ok    ok    404   ok    403   ok", PAGE_ELSEWHERE),
    "GET ledger:batch_xlsx": rule(
        "login 403   404   404   ok    ok    404   ok    403   ok", PAGE_ELSEWHERE),
    "GET ledger:batch_pdf": rule(
        "login 403   404   404   ok    ok    404   ok    403   ok", PAGE_ELSEWHERE),
    "POST ledger:list_create": rule(
        "login 403   404   404   422   done  404   422   403   done", PAGE_ELSEWHERE, LEDGER_FORMS),
    "POST ledger:batch_accept": rule(
        "login 403   404   404   422   422   404   422   403   422", PAGE_ELSEWHERE,
        LEDGER_FORMS + "; not every item has passed, so even the leader gets 422"),
    "GET ledger:list": rule(STAFF_PAGE, PAGE_ELSEWHERE, "redirects to the list's batch"),
    "GET ledger:list_xlsx": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    "GET ledger:list_pdf": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    "POST ledger:item_create": rule(
        "login 403   422   422   422   done  422   422   403   done", PAGE_ELSEWHERE, LEDGER_FORMS),
    "GET ledger:item": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    "POST ledger:item_report": rule(
        "login 403   422   422   422   422   422   done  403   done", PAGE_ELSEWHERE,
        LEDGER_FORMS + "; the item is the secretary's branch's to report on"),
    # --- party pages -------------------------------------------------------------------------------
    "GET party:index": both(STAFF_PAGE),
    "GET party:branch": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    "POST party:branch": rule(
        "login 403   quiet quiet quiet done  quiet done  403   done", PAGE_ELSEWHERE,
        "the branch's secretary or a leader over it; others get the page back with the refusal"),
    "GET party:grouping": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    "POST party:grouping": rule(
        "login 403   quiet quiet quiet done  quiet done  403   done", PAGE_ELSEWHERE),
    "GET party:pair": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    "POST party:pair_step": rule(
        "login 403   422   422   422   422   422   done  403   done", PAGE_ELSEWHERE,
        "the branch's secretary; a refusal comes back on the pair's page with status 422"),
    # --- parking pages -----------------------------------------------------------------------------
    "GET parking:zones": both(STAFF_PAGE, "the other region's zone must not be in it"),
    "POST parking:gate": rule(
        "login 403   done  done  done  done  done  done  403   done", QUIET_ELSEWHERE),
    "GET parking:violations": both(STAFF_PAGE, "the other region's violations must not be in it"),
    "POST parking:violations": rule(
        "login 403   done  done  done  done  done  done  403   done", QUIET_ELSEWHERE),
    "GET parking:violation": rule(STAFF_PAGE, PAGE_ELSEWHERE),
    "POST parking:decide": rule(
        "login 403   quiet done  quiet quiet quiet quiet 403   done", QUIET_ELSEWHERE,
        "the enforcement unit holding the case; every refusal comes back as a message on the violation's page"),
    "POST parking:pay": rule(
        "login 403   done  done  done  done  done  done  403   done", QUIET_ELSEWHERE),
    "POST parking:appeal": rule(
        "login 403   done  done  done  done  done  done  403   done", QUIET_ELSEWHERE),
    "POST parking:judge": rule(
        "login 403   quiet quiet done  done  quiet quiet 403   done", QUIET_ELSEWHERE,
        "a leader or operator over the region, never who imposed the penalty"),
    "GET parking:hotspots": both("login 403   403   403   ok    ok    403   403   403   ok",
                                 "leaders and operators only"),
    # --- Open311 GeoReport v2: public reads, writes with an api_key ------------------------------------
    "GET open311:discovery": both(PUBLIC),
    "GET open311:services": both(PUBLIC),
    "GET open311:service": both(PUBLIC),
    "GET open311:requests": both(PUBLIC, "public fields of incidents only"),
    "GET open311:request": rule(
        PUBLIC, "404   404   404   404   404   404   404   404   404   404",
        "GeoReport shows incidents only: an application's number ('other') is unknown to it; an incident is "
        "public wherever it lies (sibling, cousin)", sibling=PUBLIC, cousin=PUBLIC),
    "GET open311:token": rule(
        PUBLIC, "404   404   404   404   404   404   404   404   404   404",
        "'other' is a token never issued; a token issued is public wherever its incident lies",
        sibling=PUBLIC, cousin=PUBLIC),
    "POST open311:requests": rule(
        OPEN311_WRITE, "403   403   403   403   403   403   403   403   403   403",
        "a write needs an api_key ('own', 'sibling', 'cousin'), whoever is logged in; without one ('other') it is "
        "refused", sibling=OPEN311_WRITE, cousin=OPEN311_WRITE),
    # --- a side's objects reached through another route: by a file's path, an id, an ID number ------
    "POST /api/v1/cases · a material citing that side's stored file by its path": rule(
        CITES_FILE, CITES_FILE,
        "a material's file is one the caller uploaded and cites by its handle: a storage path is refused by "
        "name (422, nothing written), whoever's file it is"),
    "POST /api/v1/cases · a material citing that side's resident's upload": rule(
        "401   done  422   422   422   422   422   422   403   422",
        "401   422   422   422   422   422   422   422   403   422",
        "an upload is cited by who uploaded it alone: anyone else's handle reads as unknown (422 naming it)"),
    "POST /api/v1/cases · on behalf of that side's resident": rule(
        "401   done  done  done  done  done  done  done  404   done",
        "401   404   404   404   404   404   404   404   404   done",
        "staff apply for a resident they may see (代办), a resident for themself; anyone else reads as unknown"),
    "POST /api/v1/cases · given to that side's party branch": rule(
        "401   403   done  done  done  done  done  done  403   done",
        "401   403   403   403   403   403   403   403   403   done",
        "staff give a case (a rectification item) to a unit on their regions' chain, not to one beside it"),
    "GET /api/v1/cases · filtered to that side": rule(SIGNED_IN_API, SIGNED_IN_API),
    "GET web:queue · filtered to that side": rule(STAFF_PAGE, STAFF_PAGE),
    "POST /api/v1/grids/imports · that side's resident by ID number, into one's own grid": rule(
        "401   403   done  done  done  done  done  done  403   done",
        "401   403   422   422   422   422   422   422   403   done",
        "an import may create or change only people the importer may see (户籍 or household in their regions): "
        "anyone else is a row-level error that names no one, nothing written"),
    "POST /api/v1/party/branches/{code}/pairs · that side's poor household, with one's own branch": rule(
        BRANCH_MANAGERS, PAIR_ELSEWHERE,
        "a branch pairs households of its own area: one elsewhere is refused (422) even to those who see it",
        sibling=PAIR_ELSEWHERE, cousin=PAIR_ELSEWHERE),
    "PUT /api/v1/party/branches/{code}/groups · with that side's members, in one's own branch": rule(
        BRANCH_MANAGERS, PAIR_ELSEWHERE,
        "a branch's groups hold its own members: another branch's are refused (422), and stay as they were",
        sibling=PAIR_ELSEWHERE, cousin=PAIR_ELSEWHERE),
    "POST party:branch · pair that side's poor household, with one's own branch": rule(
        "login 403   quiet quiet quiet done  quiet done  403   done", PAGE_PAIR_ELSEWHERE,
        "as the API: the form comes back with the refusal", sibling=PAGE_PAIR_ELSEWHERE, cousin=PAGE_PAIR_ELSEWHERE),
    "POST /api/v1/cases/{number}/actions/{action} · merge one's own report into that side's incident": rule(
        "401   404   403   403   done  403   403   403   404   done",
        "401   404   403   403   404   403   403   403   404   done",
        "the operator holding the report merges it into an incident they may see; another's reads as unknown"),
    "POST /api/v1/ledger/lists/{list_id}/items · given to that side's branch, in one's own list": rule(
        "401   403   403   403   403   done  403   403   403   done",
        "401   403   403   403   403   403   403   403   403   done",
        "an item is given to a unit on the chain of its creator's regions, as any case given to a named unit"),
    "POST /api/v1/ledger/batches/{batch_id}/lists · that side's community, in one's own batch": rule(
        "401   403   404   404   403   done  404   403   403   done",
        "401   403   404   404   403   422   404   403   403   422",
        "a batch's lists lie within its region (空港新城 for 幸福里's): 秦汉新城's community is refused"),
    "POST grid:reveal_id · that side's resident, from one's own grid's page": rule(
        "login 403   403   403   403   403   done  403   403   done",
        "login 403   403   403   403   403   404   403   403   done",
        "the resident's household must lie in the grid worker's regions, whichever grid's page asks"),
    "POST web:notifications · that side's notifications by id": rule(
        "login 403   quiet done  quiet quiet quiet quiet 403   quiet",
        "login 403   quiet quiet quiet quiet quiet quiet 403   quiet",
        "only notifications to the caller's own units are marked read; anyone else's stay unread"),
    # --- dashboards over the caller's whole scope: no other region's case or region in them -----------
    "GET stats:dashboard · the caller's whole scope": both(STAFF_PAGE),
    "GET stats:export · the caller's whole scope": both(STAFF_PAGE),
    "GET stats:cases · the caller's whole scope": both(STAFF_PAGE),
    "GET stats:cases_export · the caller's whole scope": both(STAFF_PAGE),
    "GET stats:incidents · the caller's whole scope": both(STAFF_PAGE),
}
