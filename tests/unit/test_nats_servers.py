import pytest

from kit.nats.servers import server_list


def test_one_url_and_a_cluster_list():
    assert server_list("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]
    assert server_list(" nats://a:4222, nats://b:4222 ,") == ["nats://a:4222", "nats://b:4222"]


def test_an_empty_setting_is_an_error():
    with pytest.raises(ValueError, match="no NATS server URL"):
        server_list(" , ")
