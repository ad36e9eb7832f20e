#!/usr/bin/env python3
"""Run the portal's nginx config (deploy/nginx/nginx.conf.template) outside Docker.

CI's deploy check and the test suite put it in front of gunicorn on loopback ports; an
operator without Docker can use it the same way. Everything nginx writes (config, pid,
buffered bodies, a self-signed certificate unless --tls-dir is given) goes in --dir.

    python scripts/nginx_front.py --dir /tmp/front --http 127.0.0.1:8080 \\
        --https 127.0.0.1:8443 --upstream 127.0.0.1:8000 --media-root var/media

It writes the config and replaces itself with nginx in the foreground (``daemon off``);
stop it with SIGTERM (fast) or SIGQUIT (graceful).
"""

import argparse
import datetime
import getpass
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "nginx.conf.template"
PLACEHOLDER = re.compile(r"\$\{(PORTAL_NGINX_[A-Z_]+)\}")


def render(values: dict[str, str], template: Path = TEMPLATE) -> str:
    """The template with every ``${PORTAL_NGINX_*}`` replaced; a missing value is an error."""
    text = template.read_text()
    missing = sorted({name for name in PLACEHOLDER.findall(text) if name not in values})
    if missing:
        raise KeyError(f"no value for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: str(values[m[1]]), text)


def write_self_signed(directory: Path, name: str = "localhost") -> None:
    """fullchain.pem and privkey.pem for ``name`` and 127.0.0.1, valid for a day."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    alt_names = [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = directory / "privkey.pem"
    key_file.touch(mode=0o600)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def prepare(
    workdir: Path,
    *,
    http: str,
    https: str,
    upstream: str,
    media_root: Path,
    user: str = "root",
    tls_dir: Path | None = None,
) -> Path:
    """Write ``workdir/nginx.conf`` (and a certificate if none is given); returns its path."""
    workdir = workdir.resolve()
    (workdir / "temp").mkdir(parents=True, exist_ok=True)
    if tls_dir is None:
        tls_dir = workdir / "tls"
        write_self_signed(tls_dir)
    values = {
        "PORTAL_NGINX_USER": user,
        "PORTAL_NGINX_HTTP_LISTEN": http,
        "PORTAL_NGINX_HTTPS_LISTEN": https,
        "PORTAL_NGINX_TLS_DIR": str(Path(tls_dir).resolve()),
        "PORTAL_NGINX_UPSTREAM": upstream,
        "PORTAL_NGINX_MEDIA_ROOT": str(Path(media_root).resolve()),
        "PORTAL_NGINX_TEMP_DIR": str(workdir / "temp"),
    }
    conf = workdir / "nginx.conf"
    conf.write_text(render(values))
    return conf


def command(conf: Path, nginx: str = "nginx") -> list[str]:
    """nginx in the foreground on ``conf``, with its pid file beside it."""
    workdir = conf.parent
    directives = f"daemon off; pid {workdir / 'nginx.pid'};"
    return [nginx, "-p", f"{workdir}/", "-c", str(conf), "-g", directives]


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="nginx's working directory")
    parser.add_argument("--http", required=True, help="plain HTTP listen address")
    parser.add_argument("--https", required=True, help="TLS listen address")
    parser.add_argument("--upstream", required=True, help="gunicorn's host:port")
    parser.add_argument("--media-root", type=Path, required=True)
    parser.add_argument("--user", default=getpass.getuser(), help="worker processes' user")
    parser.add_argument("--tls-dir", type=Path, help="fullchain.pem and privkey.pem")
    args = parser.parse_args(argv)
    nginx = find_nginx()
    if nginx is None:
        sys.exit("nginx is not installed (Debian: apt-get install nginx)")
    conf = prepare(
        args.dir,
        http=args.http,
        https=args.https,
        upstream=args.upstream,
        media_root=args.media_root,
        user=args.user,
        tls_dir=args.tls_dir,
    )
    sys.stdout.flush()
    os.execv(nginx, command(conf, nginx))  # noqa: S606 - nginx replaces this process


if __name__ == "__main__":
    main()
