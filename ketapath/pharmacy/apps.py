from django.apps import AppConfig


class PharmacyConfig(AppConfig):
    name = "ketapath.pharmacy"
    label = "pharmacy"

    def ready(self) -> None:
        # Course pages show the patient's recent ketamine from the ledger (scheduling sits
        # beside pharmacy in the app graph, so it cannot import it).
        from ketapath.core.exposure import register_exposure_provider
        from ketapath.pharmacy.selectors import ketamine_exposure

        register_exposure_provider(ketamine_exposure)
