"""Single sign-on through the installation's OpenID Connect provider.

Off unless ``PORTAL_OIDC_ISSUER`` (or the provider's endpoints) and
``PORTAL_OIDC_CLIENT_ID`` are set (``portal.sso.conf``); then the login page offers
"Sign in with <label>" beside the password form.

- A person is matched by the provider's (issuer, subject) pair (``SsoIdentity``). The
  first time, an account with the same address is linked only when the provider says
  the address is verified (never a superuser's or staff account: those are linked in
  the admin); with no such account one is made, without a password.
- With ``PORTAL_OIDC_INSTITUTION_CLAIM`` set, the provider decides which institutions a
  person belongs to (memberships are added and removed at each sign-in); with
  ``PORTAL_OIDC_ROLE_CLAIM`` set, their role in each (``portal.sso.claims``). Unset,
  administrators manage memberships and roles as with passwords. A claim the portal
  cannot read refuses the sign-in with a message; nothing is half-written.
- Nothing from the provider ever makes a superuser or staff member; a disabled account
  cannot sign in.
- Sign-ins are audited like password sign-ins (``{"method": "sso"}`` in the event).
- Signing out of the portal also ends the provider's session when the provider has an
  end-session endpoint (RP-initiated logout).
- The portal asks the provider again after ``PORTAL_OIDC_RENEW_SECONDS`` (15 minutes by
  default): silently when the provider's session still holds, otherwise the person
  signs in there again (``portal.sso.middleware``).
- An institution may turn password sign-in off for its members (``portal.sso.password``);
  superusers always keep it.
"""
