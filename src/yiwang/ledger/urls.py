from django.urls import path

from yiwang.ledger import views

app_name = "ledger"

urlpatterns = [
    path("", views.index, name="index"),
    path("topics/", views.topics, name="topics"),
    path("topics/new/", views.topic_new, name="topic_new"),
    path("topics/counts/", views.counts, name="counts"),
    path("topics/<int:topic_id>/", views.topic_detail, name="topic"),
    path("visits/<int:visit_id>/items/", views.visit_item, name="visit_item"),
    path("batches/new/", views.batch_new, name="batch_new"),
    path("batches/<int:batch_id>/", views.batch_detail, name="batch"),
    path("batches/<int:batch_id>/lists/", views.list_create, name="list_create"),
    path("batches/<int:batch_id>/accept/", views.batch_accept, name="batch_accept"),
    path("batches/<int:batch_id>/ledger.xlsx", views.batch_export, {"fmt": "xlsx"}, name="batch_xlsx"),
    path("batches/<int:batch_id>/ledger.pdf", views.batch_export, {"fmt": "pdf"}, name="batch_pdf"),
    path("lists/<int:list_id>/", views.problem_list, name="list"),
    path("lists/<int:list_id>/items/", views.item_create, name="item_create"),
    path("lists/<int:list_id>/ledger.xlsx", views.list_export, {"fmt": "xlsx"}, name="list_xlsx"),
    path("lists/<int:list_id>/ledger.pdf", views.list_export, {"fmt": "pdf"}, name="list_pdf"),
    path("items/<int:item_id>/", views.item_detail, name="item"),
    path("items/<int:item_id>/report/", views.item_report, name="item_report"),
]
