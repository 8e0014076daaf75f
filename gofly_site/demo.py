"""What a new enterprise starts with, from `manage.py install` (the demo) and from registration: its
offline text and a welcome text in Chinese and in English, each shown to readers of its language."""

from __future__ import annotations

from enterprises.models import Enterprise
from enterprises.services import enterprise_create
from replies.services import welcome_text_seed

WELCOME = {"zh-hans": "您好，欢迎咨询！有什么可以帮您？", "en": "Hello, how can we help you?"}
OFFLINE = {
    "zh-hans": "客服暂时不在线，请留言，我们会尽快回复。",
    "en": "We are away; leave a message and we will reply soon.",
}


def enterprise_with_texts_create(*, name: str) -> Enterprise:
    enterprise = enterprise_create(name=name, offline_text=OFFLINE["zh-hans"], offline_text_en=OFFLINE["en"])
    for language, content in WELCOME.items():
        welcome_text_seed(enterprise=enterprise, content=content, language=language)
    return enterprise
