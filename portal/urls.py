from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from portal import csp, health
from portal.accounts.views import PortalLoginView, PortalPasswordResetView, profile
from portal.api import schema
from portal.metrics import endpoint as metrics_endpoint
from portal.mfa import urls as mfa_urls
from portal.sso import views as sso_views

admin.site.site_header = "Clarius portal administration"
admin.site.site_title = "Clarius portal admin"
admin.site.index_title = "Tenants, members and integration"


class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico whatever the page links: send them to the SVG (its
    static URL is looked up per request, as the production storage adds a hash)."""

    permanent = False

    def get_redirect_url(self, *args, **kwargs):
        return static("img/favicon.svg")


# Under /api/ a 404 is a problem (application/problem+json), elsewhere the page.
handler404 = "portal.api.errors.not_found_page"

urlpatterns = [
    path("", include("portal.dashboard.urls")),
    path("", include("portal.reports.urls")),
    path("accounts/login/", PortalLoginView.as_view(), name="login"),
    path("accounts/login/verify/", include(mfa_urls.verify_urlpatterns)),
    path("accounts/password_reset/", PortalPasswordResetView.as_view(), name="password_reset"),
    # Before Django's own: signing out also ends a session begun at the identity provider.
    path("accounts/logout/", sso_views.LogoutView.as_view(), name="logout"),
    path("accounts/sso/", include("portal.sso.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("account/sessions/", include("portal.usersessions.urls")),
    path("account/profile/", profile, name="profile"),
    path("account/security/", include("portal.mfa.urls")),
    path("", include("portal.notifications.urls")),
    path("", include("portal.tenants.urls")),
    path("clarius/", include("integrations.clarius.urls")),
    path("api/v1/clarius/", include("integrations.clarius.api_urls")),
    path("institution/webhooks/", include("integrations.webhooks.urls")),
    path("institution/destinations/", include("portal.outbound.urls")),
    path("institution/exam-types/", include("portal.worksheets.urls")),
    path("qa/", include("portal.qa.urls")),
    path("api/v1/", include("integrations.fhir.api_urls")),
    path("api/v1/", include("portal.api.urls")),
    path("api/schema/", schema.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", schema.DocsView.as_view(), name="api-docs"),
    path("api/problems/<slug:slug>", schema.problem_type, name="api-problem"),
    path("", include("portal.api.page_urls")),
    path("admin/", admin.site.urls),
    path("csp-report/", csp.report, name="csp-report"),
    path("favicon.ico", FaviconView.as_view(), name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Answered by portal.metrics.endpoint.MetricsMiddleware first; named here for reverse().
    path("metrics", metrics_endpoint.metrics, name="metrics"),
]
