"""asyncio, imported without OpenSSL when nothing in the process has loaded it yet.

asyncio imports `ssl` only to offer TLS on its own transports (`create_connection(ssl=...)`,
`start_tls`), which a run never uses: its tasks talk to wtpar through pipes, and the Dask
client's TLS goes through tornado, which imports `ssl` itself. Loading OpenSSL (libssl and
libcrypto, and the enums `ssl` builds from them) delayed every `wtpar run`'s first task by
about 4 ms on 2 CPUs (median 94.4 -> 90.3 ms; bench/RESULTS.md, "Fifth pass").

`load()` hides `ssl` while asyncio is imported for the first time. A later `import ssl`
(tornado's, anyone's) loads it as usual; only asyncio's own TLS stays off in this process,
and says so ("stdlib ssl module not available") if something asks for it.
"""

from __future__ import annotations

import sys


def load() -> None:
    """Import asyncio without `ssl`, unless either is already imported."""
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]  # `import ssl` -> ImportError
    try:
        import asyncio  # noqa: F401
    finally:
        del sys.modules["ssl"]
