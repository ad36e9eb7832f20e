"""The administrators' destination pages, under /institution/destinations/."""

urlpatterns: list = []
