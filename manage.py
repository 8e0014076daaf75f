#!/usr/bin/env python
"""Django's command-line entry point for GoFly."""

import os
import sys


def _fast_event_loop() -> None:
    """`manage.py server` runs on uvloop: under daphne ~13 % less CPU per message (bench/README.md).

    It has to happen here, before Django starts: the daphne app installs Twisted's asyncio reactor on
    a new event loop as soon as it is imported. GOFLY_UVLOOP=0 keeps asyncio's own loop.
    """
    if os.environ.get("GOFLY_UVLOOP", "1") != "1":
        return
    try:
        import uvloop
    except ImportError:  # not on this platform (Windows): asyncio's own loop works, only slower
        return
    import asyncio

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gofly_site.settings")
    if sys.argv[1:2] == ["server"]:
        _fast_event_loop()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
