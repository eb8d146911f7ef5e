"""The README's worked example is this repository's examples/greeter.py, and it works."""

import importlib.util
import re
from pathlib import Path

import pytest

import kit.grpc
import kit.http
from kit import errors
from kit.testing.grpc import serve_grpc
from kit.testing.http import serve_wsgi

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "greeter.py"


def test_readme_shows_the_example_verbatim():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Worked example", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None
    assert block.group(1) == EXAMPLE.read_text()


@pytest.fixture(scope="module")
def greeter():
    spec = importlib.util.spec_from_file_location("greeter_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_serves_one_endpoint_over_http_and_grpc(greeter):
    with serve_wsgi(greeter.app) as base_url, serve_grpc(greeter.grpc_service) as target:
        over_http = kit.http.HTTPClient("POST", f"{base_url}/greet", kit.http.json_body_encoder,
                                        kit.http.json_decoder(greeter.Greeting))
        over_grpc = kit.grpc.json_client(kit.grpc.dial(target), "/greeter.Greeter/Greet",
                                         greeter.Greet, greeter.Greeting)
        for remote in (over_http, over_grpc):
            assert remote(greeter.Greet("ada")) == greeter.Greeting("hello ada")
            with pytest.raises(errors.InvalidArgument) as info:
                remote(greeter.Greet("  "))
            assert [(f.field, f.message) for f in info.value.fields] == [("name", "must not be blank")]
