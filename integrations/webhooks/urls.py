from django.urls import path

from integrations.webhooks import views

urlpatterns = [
    path("", views.endpoint_list, name="webhook-list"),
    path("<int:pk>/", views.endpoint_detail, name="webhook-detail"),
    path("<int:pk>/rotate/", views.endpoint_rotate, name="webhook-rotate"),
    path("<int:pk>/enable/", views.endpoint_enable, name="webhook-enable"),
    path("<int:pk>/disable/", views.endpoint_disable, name="webhook-disable"),
    path("<int:pk>/remove/", views.endpoint_remove, name="webhook-remove"),
    path(
        "<int:pk>/deliveries/<int:delivery>/redeliver/",
        views.delivery_redeliver,
        name="webhook-redeliver",
    ),
]
