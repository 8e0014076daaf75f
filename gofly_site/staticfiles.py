"""Static files: collected with content hashes and gzip copies, served by nginx or, embedded, by WhiteNoise.

`manage.py collectstatic` writes every file twice into STATIC_ROOT, as it is (`js/gofly-front.js`, the
widget loader that customers embed by that URL) and under a name with its content's hash
(`js/gofly-front.3f2a9c1b7d4e.js`, what `{% static %}` names in our pages), each with a `.gz` copy, and
the manifest `staticfiles.json` that maps one to the other. Without the manifest `{% static %}` raises
(DEBUG off), so the embedded mode collects when it is missing or out of date: `manage.py install`, and the
server's start (`StaticFilesMiddleware`). nginx (deploy/nginx/gofly.conf) serves the same directory itself.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from whitenoise.compress import Compressor
from whitenoise.middleware import WhiteNoiseMiddleware
from whitenoise.storage import CompressedManifestStaticFilesStorage

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

IGNORE_PATTERNS = ["CVS", ".*", "*~"]  # collectstatic's defaults
MANIFEST = "staticfiles.json"


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's storage, whose files nginx's worker (not their owner) can read: every file and directory
    under STATIC_ROOT gets the storage's modes (OPTIONS in settings.STORAGES) at the end of collectstatic,
    the `.gz` copies WhiteNoise writes under the umask and files an older collectstatic left included."""

    def post_process(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        yield from super().post_process(*args, **kwargs)
        if not kwargs.get("dry_run"):
            self.make_readable()

    def create_compressor(self, **kwargs: Any) -> Compressor:
        # gzip only, even where the brotli package is installed: brotli's quality 11 took 10 s of CPU for
        # our ~800 files (gzip 0.4 s), and neither nginx 1.22 nor browsers over plain http would use it.
        return Compressor(use_brotli=False, **kwargs)

    def make_readable(self) -> None:
        for top, _dirs, files in os.walk(self.location):
            _chmod(top, self.directory_permissions_mode)
            for name in files:
                _chmod(os.path.join(top, name), self.file_permissions_mode)


def _chmod(path: str, mode: int | None) -> None:
    try:
        if mode is not None and not os.path.islink(path) and stat.S_IMODE(os.stat(path).st_mode) != mode:
            os.chmod(path, mode)
    except OSError:  # not ours to change (another user's file): left as it is
        pass


def sources_fingerprint() -> str:
    """What collectstatic would collect (every source file's name, size and date) and where to."""
    digest = hashlib.sha256(
        f"{settings.STATIC_ROOT}\0{settings.STATIC_URL}\0{settings.STORAGES['staticfiles']}".encode()
    )
    seen = set()
    for finder in finders.get_finders():
        for path, storage in finder.list(IGNORE_PATTERNS):
            prefix = getattr(storage, "prefix", None)
            name = (f"{prefix}/{path}" if prefix else path).replace("\\", "/")
            if name not in seen:  # the first finder's file wins, as in collectstatic
                seen.add(name)
                info = os.stat(storage.path(path))
                digest.update(f"\n{name}\0{info.st_size}\0{info.st_mtime_ns}".encode())
    return digest.hexdigest()


def _stamp() -> Path:
    """The fingerprint of the last collection from here: in the var dir, not in STATIC_ROOT, which is public."""
    return Path(settings.VAR_DIR) / "staticfiles.sources"


def collected_is_current() -> bool:
    """STATIC_ROOT has its manifest, collected from the static files as they are now."""
    try:
        stamp = _stamp().read_text()
    except OSError:
        return False
    return (Path(settings.STATIC_ROOT) / MANIFEST).exists() and stamp == sources_fingerprint()


@contextmanager
def _collect_lock() -> Iterator[None]:
    """One collectstatic at a time per var dir (test workers, two servers starting together)."""
    if fcntl is None:
        yield
        return
    Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
    with open(Path(settings.VAR_DIR) / "collectstatic.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def collect_if_stale(stdout: Any = None) -> bool:
    """Run `collectstatic` when STATIC_ROOT's manifest is missing or out of date; True if it did."""
    with _collect_lock():
        if collected_is_current():
            return False
        fingerprint = sources_fingerprint()  # before: a file changed meanwhile is collected next time
        call_command("collectstatic", interactive=False, verbosity=0)
        _scanned.clear()
        _stamp().write_text(fingerprint)
    if stdout is not None:
        stdout.write(f"Collected the static files into {settings.STATIC_ROOT}.\n")
    return True


# What WhiteNoise found in a directory, per process: a test client builds its middleware for every client,
# and a scan of STATIC_ROOT (some 800 files) takes 50 ms.
_scanned: dict[tuple[Any, ...], dict[str, Any]] = {}
_checked = False


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise's middleware, on the event loop under ASGI as gofly_site.middleware's classes are (a sync
    middleware costs two thread hops per request, static or not). It answers /static/ from the files found
    in STATIC_ROOT at start (in DEBUG from the finders, on each request), with their gzip copy to clients
    that take it; names with a content hash are cached a year (`immutable`), others WHITENOISE_MAX_AGE.
    A file is read whole on the loop: ours are at most a few hundred KB, read from the page cache."""

    sync_capable = True
    async_capable = True
    FOREVER = 365 * 24 * 60 * 60  # as deploy/nginx/gofly.conf; WhiteNoise says ten years
    files: dict[str, Any]

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        global _checked
        if not settings.DEBUG and not _checked:
            collect_if_stale()
            _checked = True
        super().__init__(get_response)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def update_files_dictionary(self, root: str, prefix: str) -> None:
        key = (root, prefix, self.max_age, self.allow_all_origins, self.charset, self.FOREVER)
        found = _scanned.get(key)
        if found is None:
            mine, self.files = self.files, {}
            super().update_files_dictionary(root, prefix)
            found, self.files = self.files, mine
            _scanned[key] = found
        self.files.update(found)

    def _static_file(self, request: HttpRequest) -> Any:
        """The file `request` asks for; None for a path outside /static/. A path under it that names no file
        (`../` included) is not found here, before the host check and the URL resolver."""
        path = request.path_info
        static_file = self.find_file(path) if self.autorefresh else self.files.get(path)
        if static_file is None and path.startswith(self.static_prefix):
            raise Http404("not a static file")
        return static_file

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        static_file = self._static_file(request)
        if static_file is None:
            return self.get_response(request)
        return self.serve(static_file, request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        static_file = self._static_file(request)
        if static_file is None:
            return await self.get_response(request)  # type: ignore[no-any-return]
        return self.serve(static_file, request)

    @staticmethod
    def serve(static_file: Any, request: HttpRequest) -> HttpResponse:
        """The file's bytes in a plain response: under ASGI Django reads a FileResponse in a thread."""
        answer = static_file.get_response(request.method, request.META)
        body = b""
        if answer.file is not None:
            with answer.file as file:
                body = file.read()
        response = HttpResponse(body, status=int(answer.status))
        del response["Content-Type"]
        for key, value in answer.headers:
            response[key] = value
        return response
