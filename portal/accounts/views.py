from django.contrib.auth.views import LoginView, PasswordResetView
from django.http import HttpResponseRedirect

from portal.accounts.forms import EmailAuthenticationForm, PasswordResetRequestForm
from portal.accounts.password_reset import request_reset
from portal.accounts.throttle import client_ip


class PortalLoginView(LoginView):
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


class PortalPasswordResetView(PasswordResetView):
    """Asks for a reset link: the same answer, after the same work, for any address.

    Django's own view looks the account up and sends the email in the request, which
    tells by its timing whether the address has an account; here the worker does that.
    """

    form_class = PasswordResetRequestForm

    def form_valid(self, form):
        request_reset(form.cleaned_data["email"], client_ip(self.request))
        return HttpResponseRedirect(self.get_success_url())
