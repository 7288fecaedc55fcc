from ketapath.pharmacy import urls_counts, urls_reports, urls_stock

app_name = "pharmacy"

urlpatterns = [*urls_stock.urlpatterns, *urls_counts.urlpatterns, *urls_reports.urlpatterns]
