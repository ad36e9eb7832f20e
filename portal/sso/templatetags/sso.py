from django import template

from portal.sso import conf

register = template.Library()


@register.inclusion_tag("sso/sign_in_button.html")
def sso_sign_in(next_url=""):
    """The "Sign in with …" button of the login page, when single sign-on is configured."""
    return {
        "enabled": conf.enabled(),
        "label": conf.label() if conf.enabled() else "",
        "next": next_url,
    }
