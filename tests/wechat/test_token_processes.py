"""With Redis, separate processes share one access token: the first fetches it under the lock, the others
read it from the cache (REDIS_URL; skipped on the embedded default, whose cache is per process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from wechat import client
from wechat.models import WechatAccount

from .fakeserver import TOKEN_PATH

ROOT = Path(__file__).resolve().parents[2]

# A process of its own: Django set up from the environment, an account in memory (no database needed), its
# token printed once the agreed moment comes, so that the processes ask at the same time.
SCRIPT = """
import os, time
import django
django.setup()
from wechat import client
from wechat.models import WechatAccount
account = WechatAccount(app_id=os.environ["WX_APP_ID"])
account.app_secret = os.environ["WX_APP_SECRET"]
time.sleep(max(0.0, float(os.environ["WX_START_AT"]) - time.time()))
print(client.access_token(account), flush=True)
"""

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="processes share the token through Redis")


def test_two_processes_asking_at_once_share_one_token_fetched_once(fake_wechat):
    fake_wechat.fail_slow(1.0, path=TOKEN_PATH)  # the fetch takes a second: the other process must wait for it
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gofly_site.settings",
        "GOFLY_WECHAT_API_BASE": fake_wechat.api_base,
        "GOFLY_WECHAT_TIMEOUT": "5",
        "WX_APP_ID": fake_wechat.account.app_id,
        "WX_APP_SECRET": fake_wechat.account.app_secret,
        "WX_START_AT": str(time.time() + 8),
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    try:
        outputs = [process.communicate(timeout=60) for process in processes]
    finally:
        for process in processes:
            process.kill()
    tokens = [out.decode().strip().splitlines()[-1] for out, _err in outputs]
    assert [process.returncode for process in processes] == [0, 0], [err.decode()[-2000:] for _out, err in outputs]
    assert tokens[0] == tokens[1] and len(tokens[0]) > 100
    assert fake_wechat.count(TOKEN_PATH) == 1
    # This process reads the same token from Redis, without a fetch of its own.
    account = WechatAccount(app_id=fake_wechat.account.app_id)
    account.app_secret = fake_wechat.account.app_secret
    assert client.access_token(account) == tokens[0]
    assert fake_wechat.count(TOKEN_PATH) == 1
    cache.delete(client._key(account.app_id))
