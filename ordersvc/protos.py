"""Regenerate the order service's protobuf / gRPC modules from ``proto/ordersvc.proto``.

Run ``python -m ordersvc.protos`` from the repository root after editing the ``.proto``. The file is
compiled under the virtual name ``eventstream/pb/ordersvc.proto``, so its modules land in the
``eventstream.pb`` package beside the event store's and import each other by package, exactly as
``eventstream.pb.generate`` does for the files it owns. A test regenerates and compares.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "proto" / "ordersvc.proto"
VIRTUAL = "eventstream/pb/ordersvc.proto"
PACKAGE_DIR = Path("eventstream") / "pb"
NAMES = ("ordersvc_pb2.py", "ordersvc_pb2.pyi", "ordersvc_pb2_grpc.py", "ordersvc_pb2_grpc.pyi")


def _plugin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"protoc plugin {name} is not installed (pip install mypy-protobuf)")
    return found


def generate(out_dir: Path) -> list[Path]:
    """Compile the order service's ``.proto`` into ``out_dir``; return the generated files."""
    from grpc_tools import protoc  # type: ignore[import-untyped]  # build-time only

    include = Path(protoc.__file__).parent / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{VIRTUAL}={SOURCE}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        VIRTUAL,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed: " + " ".join(args))
    return [out_dir / PACKAGE_DIR / name for name in NAMES]


def main() -> None:
    """Regenerate the committed modules in place."""
    for path in generate(ROOT):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
