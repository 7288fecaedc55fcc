app_name = "clinics"

urlpatterns: list = []
