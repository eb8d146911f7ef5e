"""Generate what a secure deployment needs, once: a private CA and TLS certificates, the token
secret and one NATS password per service. Run by the ``init-secrets`` job of docker-compose.yml
before anything else starts; files that exist are kept, so running it again changes nothing
(delete a file to have it made anew, see OPERATIONS.md "Security").

    python deploy/init-secrets.py --ca DIR --certs DIR --secrets DIR --identities DIR

Writes, with keys and secrets readable by their owner only:

- ``DIR(ca)/ca.crt`` ``ca.key``: the CA, in a directory no running service mounts (a CA key found
  in ``DIR(certs)``, where earlier versions kept it, is moved there);
- ``DIR(certs)/ca.crt`` and ``<name>.crt`` ``<name>.key`` for every TLS identity below, each
  naming the hosts it is reached by (``kit.certs``: EC P-256, server and client use);
- ``DIR(certs)/cockroach/``: what ``cockroach start --certs-dir`` reads (``ca.crt``, ``node.*``
  with CN=node, ``client.root.*``) and ``client.eventstream.*``, the services' database login
  (CockroachDB maps a client certificate's CN to its SQL user);
- ``DIR(certs)/zipkin.p12``: Zipkin's https key store, its password in
  ``DIR(certs)/zipkin-store/armeria.ssl.key-store-password`` (a Spring config tree: the file's
  name is the setting);
- ``DIR(secrets)/auth_secret``: the HS256 secret every service verifies tokens with and mints its
  own ``service`` token from;
- ``DIR(secrets)/nats_<user>``: each NATS user's password, and ``nats-auth.conf``: those passwords
  as the variables ``deploy/nats/auth.conf`` refers to, followed by that file itself (nats-server
  resolves a variable only within the file that defines it); every NATS node includes it;
- ``DIR(identities)/<role>/certs`` and ``.../secrets``: copies of what one role needs and no more
  (``BUNDLES``), rebuilt on every run; each container mounts its own role's two directories only,
  so a worker holds its own NATS password, not the event store's.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
from pathlib import Path

from kit.certs import Issued, issue, make_ca, pkcs12

IDENTITIES: dict[str, tuple[str, ...]] = {
    "eventstoresvc": ("eventstoresvc",),
    "ordersvc": ("ordersvc", "localhost", "127.0.0.1"),
    "worker": ("worker",),
    "bootstrap": ("bootstrap",),
    "nats": ("nats-1", "nats-2", "nats-3", "localhost", "127.0.0.1"),
    "zipkin": ("zipkin", "localhost", "127.0.0.1"),
}
"""TLS identities and the names they answer to (the workers share one)."""

COCKROACH: dict[str, tuple[str, tuple[str, ...]]] = {
    "node": ("node", ("roach-1", "roach-2", "roach-3", "localhost", "127.0.0.1")),
    "client.root": ("root", ()),
    "client.eventstream": ("eventstream", ()),
}
"""CockroachDB's certificates: file name -> (CN, hosts). Nodes present ``node`` to clients and
to each other; ``client.<user>`` logs in as SQL user ``<user>``."""

AUTH_CONF = Path(__file__).resolve().parent / "nats" / "auth.conf"
"""The NATS users and their permissions, with ``$<USER>_PASSWORD`` for each password."""
NATS_USERS = ("bootstrap", "eventstoresvc", "ordersvc", "payment", "projection", "review", "saga")
"""One NATS user per role; deploy/nats/auth.conf says what each may publish and subscribe."""

_DATABASE_LOGIN = ("certs/cockroach/client.eventstream.crt", "certs/cockroach/client.eventstream.key")


def _service(user: str, identity: str) -> tuple[str, ...]:
    """An eventstream process: its TLS identity, the CA, the database login, the token secret
    and its own NATS password."""
    return ("certs/ca.crt", f"certs/{identity}.crt", f"certs/{identity}.key", *_DATABASE_LOGIN,
            "secrets/auth_secret", f"secrets/nats_{user}")


BUNDLES: dict[str, tuple[str, ...]] = {
    "eventstoresvc": _service("eventstoresvc", "eventstoresvc"),
    "ordersvc": _service("ordersvc", "ordersvc"),
    "bootstrap": _service("bootstrap", "bootstrap"),
    **{worker: _service(worker, "worker") for worker in ("payment", "projection", "review", "saga")},
    "proxy": ("certs/ordersvc.crt", "certs/ordersvc.key"),
    "nats": ("certs/ca.crt", "certs/nats.crt", "certs/nats.key", "secrets/nats-auth.conf"),
    "roach": ("certs/cockroach/ca.crt", "certs/cockroach/node.crt", "certs/cockroach/node.key"),
    "roach-init": ("certs/cockroach/ca.crt", "certs/cockroach/client.root.crt",
                   "certs/cockroach/client.root.key"),
    "zipkin": ("certs/zipkin.p12", "certs/zipkin-store/armeria.ssl.key-store-password"),
}
"""What each role's containers mount: ``certs/...`` from the certificates, ``secrets/...`` from
the secrets, at the same paths under ``/certs`` and ``/secrets``."""


def _private(path: Path, text: str) -> bool:
    """Write ``text`` to a new owner-only file; False (and nothing written) if it exists."""
    if path.exists():
        return False
    path.touch(mode=0o600)
    path.write_text(text)
    return True


def authority(ca_directory: Path, certs: Path) -> tuple[Issued, bool]:
    """The CA, and whether it is new: made if missing, or moved out of ``certs`` where earlier
    versions kept its key."""
    ca_directory.mkdir(parents=True, exist_ok=True)
    ca = Issued(ca_directory / "ca.crt", ca_directory / "ca.key")
    if (certs / "ca.key").exists() and not ca.key.exists():
        shutil.move(certs / "ca.key", ca.key)
        shutil.copyfile(certs / "ca.crt", ca.cert)
    if ca.cert.exists() and ca.key.exists():
        return ca, False
    return make_ca(ca_directory, "ca", overwrite=True), True


def certificates(ca_directory: Path, directory: Path) -> list[str]:
    """The CA and every identity's certificate, those missing only; the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, made = authority(ca_directory, directory)
    written: list[str] = ["ca"] if made else []
    roach = directory / "cockroach"
    for copy in (directory / "ca.crt", roach / "ca.crt"):
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ca.cert, copy)  # the CA certificate only: its key stays in ca_directory
    for name, hosts in IDENTITIES.items():
        if not (directory / f"{name}.key").exists():
            issue(directory, name, ca, hosts=hosts)
            written.append(name)
    for name, (user, hosts) in COCKROACH.items():
        if not (roach / f"{name}.key").exists():
            issue(roach, name, ca, hosts=hosts, common_name=user)
            written.append(f"cockroach/{name}")
    return written


def zipkin_store(directory: Path) -> list[str]:
    """Zipkin's PKCS#12 key store from its certificate and the store's password, if missing."""
    store, password = directory / "zipkin.p12", directory / "zipkin-store" / "armeria.ssl.key-store-password"
    if store.exists() and password.exists():
        return []
    value = secrets.token_urlsafe(24)
    password.parent.mkdir(parents=True, exist_ok=True)
    password.unlink(missing_ok=True)
    _private(password, value)  # no newline: the file's content is the value
    pkcs12(Issued(directory / "zipkin.crt", directory / "zipkin.key"), store, value)
    return ["zipkin.p12"]


def passwords(directory: Path) -> list[str]:
    """The token secret and the NATS passwords, those missing only; the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [name for name in ["auth_secret"] if _private(directory / name, secrets.token_urlsafe(48))]
    for user in NATS_USERS:
        if _private(directory / f"nats_{user}", secrets.token_urlsafe(32)):
            written.append(f"nats_{user}")
    lines = ["# Generated by deploy/init-secrets.py from deploy/nats/auth.conf: do not edit or commit."]
    for user in NATS_USERS:
        value = (directory / f"nats_{user}").read_text().strip()
        lines.append(f'{user.upper()}_PASSWORD: "{value}"')
    conf = directory / "nats-auth.conf"
    conf.unlink(missing_ok=True)  # always rebuilt: the permissions may have changed
    _private(conf, "\n".join(lines) + "\n\n" + AUTH_CONF.read_text())
    return written


def bundles(certs: Path, secret_files: Path, identities: Path) -> None:
    """Bring every role's copies of what it needs (``BUNDLES``) up to date, modes kept.

    Files are rewritten in place and a file a role no longer needs is deleted, but the role's
    directories stay: running containers have them mounted.
    """
    sources = {"certs": certs, "secrets": secret_files}
    for role, files in BUNDLES.items():
        root = identities / role
        for kind in sources:
            (root / kind).mkdir(parents=True, exist_ok=True)  # mounted even when empty
        for name in files:
            kind, relative = name.split("/", 1)
            target = root / kind / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(sources[kind] / relative, target)
        for stale in root.rglob("*"):
            if stale.is_file() and str(stale.relative_to(root)) not in files:
                stale.unlink()


def main() -> None:
    """Generate what is missing and say what was written (never a secret's value)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ca", type=Path, required=True, help="Directory of the CA (its key).")
    parser.add_argument("--certs", type=Path, required=True, help="Directory of the certificates.")
    parser.add_argument("--secrets", type=Path, required=True, help="Directory of the secrets.")
    parser.add_argument("--identities", type=Path, required=True,
                        help="Directory of the per-role copies the containers mount.")
    args = parser.parse_args()
    written = certificates(args.ca, args.certs) + zipkin_store(args.certs) + passwords(args.secrets)
    bundles(args.certs, args.secrets, args.identities)
    print("init-secrets: wrote " + (", ".join(written) if written else "nothing (all present)"))


if __name__ == "__main__":
    main()
