from django.contrib.auth.views import LoginView

from portal.accounts.forms import EmailAuthenticationForm


class PortalLoginView(LoginView):
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True
