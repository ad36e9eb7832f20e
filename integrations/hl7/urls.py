"""No pages of its own: destinations are added, tested and watched on the core's pages
(``portal.outbound.urls``, /institution/destinations/)."""

urlpatterns: list = []
