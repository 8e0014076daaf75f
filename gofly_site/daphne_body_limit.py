"""Make daphne refuse an oversized request body before it reads it, as core/bodylimit.py does under uvicorn.

daphne's request is a twisted.web `Request`, which stores the whole body (in memory, or in a temporary file
past 100 kB) before daphne calls the ASGI application: core.bodylimit.BodyLimit answered a 60 MB upload
only once all of it had arrived and been written to disk, and a chunked body of any size was held whole.
Twisted tells the request its announced length (`gotLength`, None for a chunked body) once the headers are
in, before it answers `Expect: 100-continue`, and hands it each piece of the body (`handleContentChunk`).
Here a length over core.bodylimit.body_limit() is answered with BodyLimit's own 413 at once (without a
`100 Continue`), a chunked body as soon as it passes the limit; the refused request never reaches the
application, and what the client still sends is read and dropped (held nowhere) until it closes, or for
LINGER_SECONDS at most. That linger is nginx's "lingering close": closed at once with its body still coming
in, the socket would answer the client's next packets with a reset, and a client that sends its whole body
before it reads (Python's http.client, curl without `Expect`) saw "broken pipe" instead of the 413.
"""

from __future__ import annotations

import io
from typing import Any

from core.bodylimit import body_limit, too_large_messages

# How long a refused connection may go on sending what is dropped, before it is closed all the same.
LINGER_SECONDS = 5.0


def _discard(*args: Any) -> None:
    pass


def _close_lingering(channel: Any) -> None:
    """HTTPChannel.loseConnection for a refused request: the answer is flushed and followed by a FIN (the
    client reads all of it), input is still read and dropped, and the socket closes when the client closes
    it, or after LINGER_SECONDS."""
    transport = channel.transport
    channel._networkProducer.unregisterProducer()  # as HTTPChannel.loseConnection does
    if not hasattr(transport, "loseWriteConnection"):
        transport.loseConnection()
        return
    transport.loseWriteConnection()
    transport.reactor.callLater(LINGER_SECONDS, transport.loseConnection)  # a no-op once the client closed


def refuse(request: Any) -> None:
    """Answer 413 on a request whose body is still arriving, and drop the rest of that body."""
    request.gofly_refused = True
    channel = request.channel
    # The request line is parsed but not yet given to the request (Twisted does that once the body is in):
    # the status line, daphne's HEAD handling and its access log need them now.
    request.method, request.uri, request.clientproto = channel._command, channel._path, channel._version
    request.path = request.uri.split(b"?", 1)[0]
    if hasattr(request.client, "host"):
        request.client_addr = [str(request.client.host), request.client.port]
    # Whatever of the body is already read, or still arrives before the connection is closed, goes nowhere:
    # not to the request, nor parsed as a next request after it.
    decoder = channel._transferDecoder
    if decoder is not None:
        decoder.dataCallback = decoder.finishCallback = _discard
    channel.dataReceived = _discard
    if request.content is not None:
        request.content.close()  # a chunked body's temporary file, and whatever it held
    request.content = io.BytesIO()
    # Not persistent: once the answer is written, requestDone() closes the connection instead of reading
    # another request from it; gently (_close_lingering), not at once.
    channel.persistent = False
    channel.loseConnection = lambda: _close_lingering(channel)
    for message in too_large_messages():
        request.handle_reply(message)


def install() -> None:
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # pragma: no cover - daphne is a requirement
        return
    if getattr(WebRequest.gotLength, "gofly", False):
        return
    upstream_got_length = WebRequest.gotLength
    upstream_handle_content_chunk = WebRequest.handleContentChunk
    upstream_process = WebRequest.process

    def got_length(self: Any, length: int | None) -> None:
        self.gofly_limit = body_limit()
        self.gofly_received = 0
        # Twisted would also parse a form body into `request.args`, reading it whole into memory a second
        # time; daphne never reads them, and Django parses the body itself.
        self._parsePOSTFormSubmission = False
        if length is not None and length > self.gofly_limit:
            self.content = None  # never a temporary file for it
            # allHeadersReceived() reads Expect after this call: a refused body is not asked for.
            self.requestHeaders.removeHeader(b"Expect")
            refuse(self)
            return
        upstream_got_length(self, length)

    def handle_content_chunk(self: Any, data: bytes) -> None:
        if getattr(self, "gofly_refused", False):
            return
        self.gofly_received += len(data)
        if self.gofly_received > self.gofly_limit:  # a chunked body, which announced no length
            refuse(self)
            return
        upstream_handle_content_chunk(self, data)

    def process(self: Any) -> Any:
        if getattr(self, "gofly_refused", False):  # answered already; the application never sees it
            return None
        return upstream_process(self)

    got_length.gofly = True  # type: ignore[attr-defined]
    WebRequest.gotLength = got_length
    WebRequest.handleContentChunk = handle_content_chunk
    WebRequest.process = process
