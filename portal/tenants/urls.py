from django.urls import path

from portal.tenants import invitation_views, views

urlpatterns = [
    path("institutions/switch/", views.switch_institution, name="switch-institution"),
    path("institution/settings/", views.institution_settings, name="institution-settings"),
    path("institution/members/", views.member_list, name="member-list"),
    path("institution/members/<int:pk>/", views.member_detail, name="member-detail"),
    path("institution/members/<int:pk>/role/", views.member_role, name="member-role"),
    path("institution/members/<int:pk>/trainee/", views.member_trainee, name="member-trainee"),
    path("institution/members/<int:pk>/qa-role/", views.member_qa_role, name="member-qa-role"),
    path("institution/members/<int:pk>/remove/", views.member_remove, name="member-remove"),
    path("institution/members/<int:pk>/sign-out/", views.member_sign_out, name="member-sign-out"),
    path("institution/invitations/", invitation_views.invite, name="member-invite"),
    path(
        "institution/invitations/<int:pk>/cancel/",
        invitation_views.invitation_cancel,
        name="invitation-cancel",
    ),
    path("invitations/accept/", invitation_views.invitation_accept, name="invitation-accept"),
    path("invitations/<str:token>/", invitation_views.invitation_open, name="invitation-open"),
]
