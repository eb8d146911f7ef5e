"""Where the Zipkin server jar is looked up, the command that runs it, and the install hint."""

from pathlib import Path

import pytest

from kit.zipkin import server


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty home directory and no configured jar or cache location."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(server.JAR_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return tmp_path


def jar_at(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK")
    return path


def test_no_jar_anywhere_means_not_installed_and_the_hint_names_the_install_command(home):
    assert server.find_jar() is None
    problem = server.missing()
    assert problem == server.install_hint()
    assert "mvn -q dependency:copy -Dartifact=io.zipkin:zipkin-server:3.5.1:jar:exec" in problem
    assert f"-DoutputDirectory={home / '.cache' / 'eventstream'}" in problem
    assert "\n" not in problem
    with pytest.raises(server.ZipkinNotInstalled, match="dependency:copy"):
        server.command(9411)


def test_the_cache_directory_comes_before_the_local_maven_repository(home):
    maven = jar_at(home / ".m2/repository/io/zipkin/zipkin-server/3.5.1" / server.JAR_NAME)
    assert server.find_jar() == maven
    cached = jar_at(home / ".cache/eventstream" / server.JAR_NAME)
    assert server.find_jar() == cached


def test_xdg_cache_home_moves_the_cache(home, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xdg"))
    cached = jar_at(home / "xdg/eventstream" / server.JAR_NAME)
    assert server.find_jar() == cached
    assert str(home / "xdg" / "eventstream") in server.install_command()


def test_a_configured_jar_wins_and_a_missing_one_is_named(home, monkeypatch):
    jar_at(home / ".cache/eventstream" / server.JAR_NAME)
    mine = jar_at(home / "elsewhere" / "zipkin.jar")
    monkeypatch.setenv(server.JAR_ENV, str(mine))
    assert server.find_jar() == mine
    monkeypatch.setenv(server.JAR_ENV, str(home / "nothing.jar"))
    assert server.find_jar() is None  # no silent fallback past what was configured
    assert server.missing().startswith(f"{server.JAR_ENV}={home / 'nothing.jar'} names no file")


def test_the_server_listens_on_loopback_only_with_memory_storage(tmp_path):
    jar = jar_at(tmp_path / "zipkin.jar")
    args = server.command(19411, jar=jar, java="/opt/java/bin/java")
    assert args[0] == "/opt/java/bin/java"
    assert args[args.index("-jar") + 1] == str(jar)
    assert "--armeria.ports[0].ip=127.0.0.1" in args
    assert "--armeria.ports[0].port=19411" in args
    assert "--zipkin.storage.type=mem" in args


def test_urls_of_the_api_the_ui_and_a_trace():
    base = server.base_url(9411)
    assert base == "http://127.0.0.1:9411"
    assert server.ui_url(base + "/") == "http://127.0.0.1:9411/zipkin/"
    assert server.trace_url(base, "ab12") == "http://127.0.0.1:9411/zipkin/traces/ab12"


def test_nothing_listening_is_not_healthy():
    from kit.testing.net import free_port

    assert not server.healthy(server.base_url(free_port()))
