"""`yiwang case …`: run applications and reports from the shell, acting as a named user.

  yiwang case create --as USER --matter CODE [--region CODE] [--title T] [--form JSON] [--materials a,b]
  yiwang case list --as USER [--state S] [--overdue] [--limit N]
  yiwang case show NUMBER --as USER
  yiwang case act NUMBER ACTION --as USER [--comment C] [--unit CODE] [--result R] [--decision D]
"""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from yiwang.cases import selectors, services
from yiwang.cases.workflows import action_label, workflow
from yiwang.core.errors import DomainError
from yiwang.core.idnumber import mask_text
from yiwang.core.text import check_text
from yiwang.org.selectors import hierarchy, viewer_for


def _fmt(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"


class Command(BaseCommand):
    help = "Create, list, show and act on cases as a given user."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        for name in ("create", "list", "show", "act"):
            p = sub.add_parser(name)
            p.add_argument("--as", dest="username", required=True, help="act as this user")
            if name in ("show", "act"):
                p.add_argument("number")
            if name == "act":
                p.add_argument("action")
                p.add_argument("--comment", default="")
                p.add_argument("--unit", default=None)
                p.add_argument("--result", default="")
                p.add_argument("--decision", default="")
                p.add_argument("--reply", default="", help="to the resident (public)")
                p.add_argument("--note", default="", help="to colleagues only")
                p.add_argument("--delivery", default="",
                               help='办结: how the result is delivered, as JSON, e.g. {"method": "post", "tracking": "SF123456"}')
            if name == "create":
                p.add_argument("--matter", required=True)
                p.add_argument("--region", default=None)
                p.add_argument("--title", default="")
                p.add_argument("--description", default="")
                p.add_argument("--form", default="{}", help="form fields as a JSON object")
                p.add_argument("--materials", default="", help="comma-separated material codes")
                p.add_argument("--applicant-name", default="")
                p.add_argument("--applicant-phone", default="")
                p.add_argument("--channel", default="hall")
            if name == "list":
                p.add_argument("--state", action="append")
                p.add_argument("--overdue", action="store_true")
                p.add_argument("--limit", type=int, default=20)

    def handle(self, *args, verb, username, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}")
        viewer = viewer_for(user)
        try:
            getattr(self, "do_" + verb)(viewer, **options)
        except DomainError as exc:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
            raise CommandError(exc.message + (f" ({detail})" if detail else "")) from exc

    def do_create(self, viewer, matter, region, title, description, form, materials, applicant_name,
                  applicant_phone, channel, **_):
        try:
            form_data = json.loads(form)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--form is not valid JSON: {exc}") from exc
        check_text(form_data, field="form")  # JSON escapes (\u000b) get past the command line's own check
        mats = [{"code": c.strip()} for c in materials.split(",") if c.strip()]
        created = services.case_create(
            viewer=viewer, matter_code=matter, region_code=region, title=title, description=description,
            form=form_data, materials=mats, applicant_name=applicant_name, applicant_phone=applicant_phone,
            channel=channel,
        )
        case = created.case
        self.stdout.write(f"{case.number}  {mask_text(case.title, phones=False)}  → "
                          f"{hierarchy().units[case.holder_unit_id].name}")

    def do_list(self, viewer, state, overdue, limit, **_):
        page = selectors.case_list(viewer=viewer, filters=selectors.CaseFilters(state=state, overdue=overdue),
                                   order="-created", limit=limit)
        for c in page.items:
            self.stdout.write(f"{c.number}  {c.state:<12} {_fmt(c.due_at):<16}  {c.holder_unit.name}  "
                              f"{mask_text(c.title, phones=False)}")

    def do_show(self, viewer, number, **_):
        case = selectors.case_get(viewer=viewer, number=number)
        wf = workflow(case.kind)
        self.stdout.write(f"{case.number}  {mask_text(case.title, phones=False)}")
        self.stdout.write(f"state: {wf.states[case.state]} ({case.state})  version: {case.version}")
        self.stdout.write(f"holder: {case.holder_unit.name}  due: {_fmt(case.due_at)}")
        for e in selectors.case_timeline(case):
            # Terminal output lands in scrollback and tickets: ID numbers stay masked (core.idnumber).
            note = mask_text(e.payload.get("note") or e.payload.get("comment") or e.payload.get("result")
                             or e.payload.get("reason") or "", phones=False)
            self.stdout.write(f"  {e.seq:>3} {_fmt(e.at)} {e.actor_name:<12} {action_label(e.action)} "
                              f"{e.from_state}→{e.to_state} {note}")
        actions = selectors.allowed_actions(viewer, case)
        self.stdout.write("actions: " + (", ".join(a.name for a in actions) or "none"))

    def do_act(self, viewer, number, action, comment, unit, result, decision, reply, note, delivery, **_):
        try:
            given = json.loads(delivery) if delivery else None
        except json.JSONDecodeError as exc:
            raise CommandError(f"--delivery is not valid JSON: {exc}") from exc
        if given is not None and not isinstance(given, dict):
            raise CommandError("--delivery must be a JSON object")
        case = selectors.case_get(viewer=viewer, number=number)
        case = services.case_act(viewer=viewer, case_id=case.pk, action=action, version=case.version,
                                 comment=comment, unit_code=unit, result=result, decision=decision, reply=reply,
                                 note=note, delivery=given)
        self.stdout.write(f"{case.number}  {workflow(case.kind).states[case.state]} ({case.state})")
