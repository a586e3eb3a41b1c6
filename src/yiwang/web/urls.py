from django.urls import path

from yiwang.web import accounts, evidence, faq, inbox, public, search_misses, views, workbench
from yiwang.web.closing import close_account
from yiwang.web.preferences import preferences as staff_preferences
from yiwang.web.two_factor import recovery as two_factor_recovery
from yiwang.web.two_factor import setup as two_factor_setup
from yiwang.web.two_factor import verify as two_factor_verify

app_name = "web"

urlpatterns = [
    path("open/", public.figures_page, name="public_figures"),
    path("open/map/", public.map_page, name="public_map"),
    path("matters/<str:code>/", views.matter_guide, name="guide"),
    path("matters/<str:code>/apply/", views.apply, name="apply"),
    path("matters/<str:code>/forms/<int:document_id>/", views.matter_document, name="matter_document"),
    path("cases/<str:number>/", views.case_page, name="case"),
    path("cases/<str:number>/action/", views.case_resident_action, name="case_action"),
    path("cases/<str:number>/photos/<int:seq>/<int:index>/", evidence.case_photo, name="case_photo"),
    path("cases/<str:number>/answer/<str:token>/", evidence.case_answer, name="case_answer"),
    path("cases/<str:number>/answer/<str:token>/photos/<int:seq>/<int:index>/", evidence.case_answer_photo,
         name="case_answer_photo"),
    path("me/cases/", views.my_cases, name="my_cases"),
    path("me/messages/", inbox.inbox, name="inbox"),
    path("me/close/", close_account, name="close_account"),
    path("lookup/", views.lookup, name="lookup"),
    path("lookup/<str:number>/<str:token>/photos/<int:seq>/<int:index>/", evidence.lookup_photo, name="lookup_photo"),
    path("report/", views.report, name="report"),
    path("halls/", views.halls, name="halls"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", accounts.LogoutView.as_view(), name="logout"),
    path("two-factor/", two_factor_setup, name="two_factor_setup"),
    path("two-factor/verify/", two_factor_verify, name="two_factor_verify"),
    path("two-factor/recovery/", two_factor_recovery, name="two_factor_recovery"),
    path("work/", workbench.queue, name="queue"),
    path("login/code/", accounts.code_login, name="code_login"),
    path("signup/", accounts.signup, name="signup"),
    path("work/notifications/", workbench.notifications, name="notifications"),
    path("work/preferences/", staff_preferences, name="preferences"),
    path("work/cases/<str:number>/", workbench.work_case, name="work_case"),
    path("work/cases/<str:number>/act/<str:action>/", workbench.work_case_act, name="work_case_act"),
    path("work/cases/<str:number>/reveal-id/", workbench.work_case_reveal_id, name="work_case_reveal_id"),
    path("work/cases/<str:number>/public/", public.moderate, name="work_case_public"),
    path("work/cases/<str:number>/materials/<int:index>/", workbench.work_material, name="work_material"),
    path("work/faq/", faq.faq_list, name="faq_list"),
    path("work/faq/<int:faq_id>/", faq.faq_edit, name="faq_edit"),
    path("work/search-misses/", search_misses.search_misses, name="search_misses"),
]
