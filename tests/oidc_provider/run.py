"""Start the test provider: ``python -m tests.oidc_provider.run <port>``.

OIDC_PROVIDER_DIR (an empty folder), OIDC_PROVIDER_TOKEN (for /test/ endpoints) and
OIDC_PROVIDER_SECRET (the portal's client secret) come from the environment.
"""

import os
import sys
from pathlib import Path


def main():
    port = sys.argv[1]
    folder = Path(os.environ["OIDC_PROVIDER_DIR"])
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from oauth2_provider.models import get_application_model

    call_command("migrate", "--run-syncdb", verbosity=0)
    Application = get_application_model()
    Application.objects.create(
        name="Clarius portal",
        client_id="portal",
        client_secret=os.environ["OIDC_PROVIDER_SECRET"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
        redirect_uris="http://127.0.0.1/accounts/sso/callback/",
        post_logout_redirect_uris="http://127.0.0.1/accounts/login/",
    )
    call_command("runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks")


if __name__ == "__main__":
    main()
