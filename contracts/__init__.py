"""Generated protobuf and gRPC modules of the system's wire contracts.

The ``.proto`` sources live in ``proto/contracts/``; the modules here are generated from them by
``python -m contracts.generate`` and committed. A test regenerates them into a temporary
directory and compares, so the two never drift. Beside them, ``events`` (written by hand) holds
the stored-event shape every service speaks once the wire is decoded.
"""
