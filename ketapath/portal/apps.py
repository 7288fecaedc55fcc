from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "ketapath.portal"
    label = "portal"

    def ready(self) -> None:
        # The outbox asks the portal for a fresh link when a message that carries one is
        # sent (notifications sits below portal, so it cannot import it).
        from ketapath.notifications.links import register_link_minter
        from ketapath.portal.services import link_mint_for_message

        register_link_minter(link_mint_for_message)
