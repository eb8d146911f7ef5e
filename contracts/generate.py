"""Regenerate the protobuf / gRPC modules of ``contracts`` from ``proto/``.

Run ``python -m contracts.generate`` from the repository root after editing a ``.proto`` file.
The ``.proto`` files sit at ``proto/contracts/`` so that compiling with ``-Iproto`` makes the
generated ``*_pb2_grpc.py`` import its ``*_pb2`` as ``contracts.*`` (a package-qualified
import) without post-processing. Typed stubs come from mypy-protobuf's plugins.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = ROOT / "proto"
PACKAGE_DIR = Path("contracts")
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def proto_files() -> list[Path]:
    """The ``.proto`` sources of this package, relative to ``proto/``."""
    return sorted(p.relative_to(PROTO_ROOT) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto"))


def _plugin(name: str) -> Path:
    """The path of a protoc plugin installed next to the running interpreter."""
    candidate = Path(sys.executable).parent / name
    found = candidate if candidate.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"protoc plugin {name} is not installed (pip install mypy-protobuf)")
    return Path(found)


def generate(out_dir: Path) -> list[Path]:
    """Compile every ``.proto`` of the package into ``out_dir``; return the generated files."""
    from grpc_tools import protoc  # type: ignore[import-untyped]  # build-time only

    include = Path(protoc.__file__).parent / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *(str(p) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed: " + " ".join(args))
    generated = out_dir / PACKAGE_DIR
    return sorted(p for p in generated.iterdir() if p.name.endswith(SUFFIXES))


def main() -> None:
    """Regenerate the committed modules in place."""
    for path in generate(ROOT):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
