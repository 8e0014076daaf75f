"""The base of every agent API view: an authenticated agent of an enterprise, and its enterprise's id."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.views import APIView

from .auth import IsAgent


class AgentView(APIView):
    permission_classes = [IsAgent]

    @staticmethod
    def agent(request: Request) -> Any:
        """The agent (accounts.User) making the request; IsAgent has checked it."""
        return request.user

    def enterprise_id(self, request: Request) -> int:
        return int(self.agent(request).enterprise_id)
