"""Each container of deploy/ mounts its own role's files only, and finds there every file its
configuration names: init-secrets runs for real, and every certificate, key, secret and directory
path in a service's environment, command and configuration files must exist in what that service
mounts (and nothing of another role's NATS identity may)."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest
import yaml
from deploy_secrets import DEPLOY, init_secrets

pytestmark = pytest.mark.integration

COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
PATH = re.compile(r"(?<![\w.])(/(?:certs|secrets|etc/nats/certs|etc/nats/secrets)(?:/[\w.@-]+)*/?)")
NATS_ROLES = ("bootstrap", "eventstoresvc", "ordersvc", "payment", "projection", "review", "saga")


@pytest.fixture(scope="module")
def identities(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_secrets(tmp_path_factory.mktemp("deploy-identities")).identities


def mounts(service: dict, identities: Path) -> dict[PurePosixPath, Path]:
    """Where the service's container sees which role directory (the ``identities`` mounts)."""
    found: dict[PurePosixPath, Path] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict) and volume["source"] == "identities":
            assert volume["read_only"] is True
            found[PurePosixPath(volume["target"])] = identities / volume["volume"]["subpath"]
    return found


def referenced(name: str, service: dict) -> set[str]:
    """Every /certs, /secrets (or NATS's /etc/nats/...) path the service's configuration names."""
    texts = [yaml.safe_dump(service.get("environment", {})), yaml.safe_dump(service.get("command", ""))]
    for volume in service.get("volumes", []):
        if isinstance(volume, str) and volume.startswith("./"):
            config = DEPLOY / volume.split(":")[0]
            text = config.read_text()
            texts.append(text)
            if name.startswith("nats-"):  # included relative to the configuration file
                texts += [f"/etc/nats/{path}" for path in re.findall(r'include "([^"]+)"', text)]
    return {path for text in texts for path in PATH.findall(text)}


def locate(path: str, mounted: dict[PurePosixPath, Path]) -> Path | None:
    """The generated file a container path is, through the longest mount holding it."""
    posix = PurePosixPath(path)
    for target in sorted(mounted, key=lambda t: len(t.parts), reverse=True):
        if posix == target or target in posix.parents:
            return mounted[target].joinpath(*posix.relative_to(target).parts)
    return None


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if n != "init-secrets"))
def test_every_path_a_container_names_is_in_what_it_mounts(name: str, identities: Path) -> None:
    service = SERVICES[name]
    mounted = mounts(service, identities)
    paths = referenced(name, service)
    assert paths, f"{name} names no certificate or secret"
    for path in sorted(paths):
        local = locate(path, mounted)
        assert local is not None, f"{name}: {path} is on no mount"
        assert local.exists(), f"{name}: {path} is not in the files it mounts"


def test_only_init_secrets_mounts_the_ca_the_certificates_and_the_secrets() -> None:
    for name, service in SERVICES.items():
        sources = {str(v).split(":")[0] for v in service.get("volumes", []) if isinstance(v, str)}
        assert bool(sources & {"ca", "certs", "secrets"}) == (name == "init-secrets"), name


@pytest.mark.parametrize("role", NATS_ROLES)
def test_a_role_holds_its_own_nats_password_and_no_other(role: str, identities: Path) -> None:
    secrets = identities / role / "secrets"
    assert sorted(p.name for p in secrets.iterdir()) == ["auth_secret", f"nats_{role}"]
    assert oct((secrets / f"nats_{role}").stat().st_mode & 0o777) == "0o600"
    keys = sorted(p.name for p in (identities / role / "certs").rglob("*.key"))
    assert len(keys) == 2 and "client.eventstream.key" in keys, keys  # its own and the database login
    assert not list((identities / role).rglob("ca.key"))


def test_a_rerun_updates_each_role_in_place_and_drops_what_it_no_longer_needs(
        tmp_path: Path) -> None:
    generated = init_secrets(tmp_path)
    secrets = generated.identities / "payment" / "secrets"
    mounted = secrets.stat().st_ino  # what a running container has mounted
    (secrets / "nats_eventstoresvc").write_text("left over")
    generated.run()
    assert secrets.stat().st_ino == mounted
    assert sorted(p.name for p in secrets.iterdir()) == ["auth_secret", "nats_payment"]
