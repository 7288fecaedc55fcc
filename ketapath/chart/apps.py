from django.apps import AppConfig


class ChartConfig(AppConfig):
    name = "ketapath.chart"
    label = "chart"
