"""Read state both ways: the visitor's reads of the agents' messages reach the agents."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from chat.services import message_create
from tests.conftest import login_visitor

from .test_api import visitor_client
from .test_consumers import jwt_for, login
from .wsutil import agent_socket, connect_ready, recv_type, send, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_visitors_read_marks_the_agents_messages_and_every_agent_hears_it(enterprise, agent):
    mine, other = await login(enterprise, agent), await login(enterprise, agent)
    write = database_sync_to_async(message_create)
    question = (await write(visitor=mine.visitor, sender="visitor", content="?", client_id="q"))[0]
    answers = [
        (await write(visitor=mine.visitor, sender="agent", content=f"a{i}", client_id=f"a{i}", agent=agent))[0]
        for i in range(3)
    ]
    elsewhere = (await write(visitor=other.visitor, sender="agent", content="x", client_id="x", agent=agent))[0]
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    visitor_ws = visitor_socket(mine.token)
    await connect_ready(visitor_ws)
    # Up to an id of another visitor's thread: nothing of theirs is touched.
    await send(visitor_ws, "read", {"up_to": max(answers[1].pk, elsewhere.pk)})
    heard = await recv_type(agent_ws, "visitor.read")
    assert heard == {"visitor_id": mine.visitor.visitor_id, "up_to": max(answers[1].pk, elsewhere.pk)}
    read = await database_sync_to_async(
        lambda: set(Message.objects.filter(read_at__isnull=False).values_list("pk", flat=True))
    )()
    assert read == {a.pk for a in answers}  # all up to that id, not the visitor's own, nor the other visitor's
    assert question.pk not in read and elsewhere.pk not in read
    # Read again: nothing changes, nobody is told.
    await send(visitor_ws, "read", {"up_to": answers[1].pk})
    await send(visitor_ws, "read", {"up_to": "soon"})
    assert (await recv_type(visitor_ws, "error"))["code"] == "bad_frame"
    assert await agent_ws.receive_nothing(timeout=0.3)
    for ws in (visitor_ws, agent_ws):
        await ws.disconnect()


def test_a_visitor_marks_read_over_http(enterprise, agent):
    result = login_visitor(enterprise, agent)
    reply = message_create(visitor=result.visitor, sender="agent", content="hi", client_id="a", agent=agent)[0]
    client = visitor_client(result.token)
    assert client.post("/api/v1/visitor/read", {"up_to": reply.pk}, format="json").json() == {"marked": 1}
    assert client.post("/api/v1/visitor/read", {"up_to": reply.pk}, format="json").json() == {"marked": 0}
    assert client.post("/api/v1/visitor/read", {"up_to": 0}, format="json").status_code == 400
    reply.refresh_from_db()
    assert reply.read_at is not None
