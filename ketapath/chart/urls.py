app_name = "chart"

urlpatterns: list = []
