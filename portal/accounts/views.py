from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, PasswordResetView
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render

from portal.accounts import login_hints
from portal.accounts.forms import EmailAuthenticationForm, PasswordResetRequestForm, ProfileForm
from portal.accounts.password_reset import request_reset
from portal.accounts.throttle import client_ip
from portal.mfa import services as mfa_services
from portal.mfa import views as mfa_views


class PortalLoginView(LoginView):
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Why this login, when the page it leads to said (portal.accounts.login_hints).
        context["login_hint"] = login_hints.for_next(
            self.request.session, context.get(self.redirect_field_name, "")
        )
        return context

    def form_valid(self, form):
        login_hints.forget(self.request.session)
        # An account with a second factor is signed in only after it (portal.mfa).
        second_step = mfa_views.second_step(self.request, form.get_user(), self.get_success_url())
        if second_step is not None:
            return second_step
        response = super().form_valid(form)
        self.request.session[mfa_services.PASSWORD_LOGIN] = True
        return response


class PortalPasswordResetView(PasswordResetView):
    """Asks for a reset link: the same answer, after the same work, for any address.

    Django's own view looks the account up and sends the email in the request, which
    tells by its timing whether the address has an account; here the worker does that.
    """

    form_class = PasswordResetRequestForm

    def form_valid(self, form):
        request_reset(form.cleaned_data["email"], client_ip(self.request))
        return HttpResponseRedirect(self.get_success_url())


@login_required
def profile(request):
    """The user's own name and credentials ("MD, RDMS"), shown on what they sign."""
    # A copy: an invalid form must not leave its values on the request's user.
    me = get_user_model().objects.get(pk=request.user.pk)
    form = ProfileForm(request.POST or None, instance=me)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your profile is saved.")
        return redirect("profile")
    status = 400 if form.errors else 200
    return render(request, "accounts/profile.html", {"form": form}, status=status)
