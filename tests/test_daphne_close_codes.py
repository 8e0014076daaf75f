"""daphne closes websockets with the RFC 6455 server codes GoFly uses (gofly_site/daphne_close_codes.py)."""

from __future__ import annotations

from unittest import mock

import pytest
from daphne.ws_protocol import WebSocketProtocol

import gofly_site.asgi  # noqa: F401 - installs the patch, as every server process does


@pytest.mark.parametrize("code", [1012, 1013, 1001])
def test_daphne_sends_the_registered_server_close_codes_that_autobahn_refuses(code):
    protocol = WebSocketProtocol.__new__(WebSocketProtocol)
    with mock.patch.object(protocol, "sendCloseFrame") as frame:
        protocol.serverClose(code=code)
    frame.assert_called_once_with(code=code, isReply=False)


def test_other_close_codes_still_go_through_autobahns_checks():
    protocol = WebSocketProtocol.__new__(WebSocketProtocol)
    with mock.patch.object(protocol, "sendCloseFrame") as frame:
        protocol.serverClose(code=4401)
        frame.assert_called_once()
        with pytest.raises(Exception, match="invalid close code"):
            protocol.serverClose(code=1002)
