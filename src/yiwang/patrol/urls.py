app_name = "patrol"

urlpatterns: list = []
