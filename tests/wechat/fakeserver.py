"""A fake WeChat for the tests: a real HTTP server on 127.0.0.1 answering the API endpoints GoFly calls, and
helpers that drive GoFly's callback with signed plaintext and encrypted (AES) messages.

Test support, not product code. The `fake_wechat` fixture (tests/wechat/conftest.py) starts one per test
and points settings.GOFLY_WECHAT_*_BASE at it.

Endpoints (under /cgi-bin/ unless said): token; message/custom/send; media/upload, media/get; user/info;
message/template/send; qrcode/create, showqrcode; menu/create, menu/get, menu/delete; under /sns/:
oauth2/access_token, oauth2/refresh_token, userinfo, auth; and the OAuth authorize page
/connect/oauth2/authorize (which redirects at once for `oauth_follower`). API calls must carry a token the
token endpoint issued: unknown or missing → 40001/41001, expired → 42001.

Everything received is in `requests` (Recorded: method, path, query, body, json). Failures to inject:
`fail_invalid_token`, `fail_outside_window(openid)` (45015), `fail_rate_limit` (45009), `fail_slow`
(answers late: the client's timeout), `fail_server_error` (HTTP 5xx), `fail_errcode` (any errcode). A
failure without `path` hits the next API call other than the token endpoint.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import secrets
import string
import threading
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import xmltodict
from wechatpy.crypto import WeChatCrypto

TOKEN_PATH = "/cgi-bin/token"
CUSTOM_SEND_PATH = "/cgi-bin/message/custom/send"
TEMPLATE_SEND_PATH = "/cgi-bin/message/template/send"
# A 1×1 PNG: what showqrcode answers for a ticket it issued.
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
_ALNUM = string.ascii_letters + string.digits


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class FakeAccount:
    """An official account the fake knows, with credentials in WeChat's formats."""

    app_id: str
    app_secret: str
    token: str
    encoding_aes_key: str
    original_id: str  # gh_…: the ToUserName of the messages WeChat posts


def new_account() -> FakeAccount:
    return FakeAccount(
        app_id="wx" + secrets.token_hex(8),
        app_secret=secrets.token_hex(16),
        token=_random(_ALNUM, 32),
        encoding_aes_key=_random(_ALNUM, 43),
        original_id="gh_" + secrets.token_hex(6),
    )


@dataclass
class Recorded:
    """One request the fake received, and what it answered."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    json: Any = None
    status: int = 0
    answer: Any = None


@dataclass
class _Failure:
    path: str | None
    times: int
    errcode: int = 0
    errmsg: str = ""
    delay: float = 0.0
    status: int = 0


@dataclass
class _Issued:
    app_id: str
    expires_at: float


@dataclass
class _OAuthToken:
    openid: str
    scope: str
    expires_at: float


@dataclass
class FakeState:
    """What the fake holds; change it between calls (under `lock` if a call may be running)."""

    accounts: dict[str, FakeAccount] = field(default_factory=dict)
    tokens: dict[str, _Issued] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # id -> (type, filename, content)
    outside_window: set[str] = field(default_factory=set)
    menu: dict[str, Any] | None = None
    qrcodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    oauth_codes: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # code -> (app_id, openid, scope)
    oauth_tokens: dict[str, _OAuthToken] = field(default_factory=dict)
    oauth_refresh: dict[str, tuple[str, str]] = field(default_factory=dict)  # refresh token -> (openid, scope)
    failures: list[_Failure] = field(default_factory=list)


def _ok(**extra: Any) -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok", **extra}


def _err(errcode: int, errmsg: str) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": f"{errmsg} rid: {secrets.token_hex(6)}"}


class FakeWechat:
    """The fake WeChat server (module docstring). `start()` it (the fixture does), `stop()` it after."""

    def __init__(self, account: FakeAccount | None = None, *, token_ttl: int = 7200) -> None:
        self.account = account or new_account()
        self.token_ttl = token_ttl
        self.state = FakeState()
        self.state.accounts[self.account.app_id] = self.account
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.errors: list[str] = []  # tracebacks of the fake's own bugs (each also answered 500)
        self.oauth_follower: str | None = None  # who "opens" the authorize page
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life ----------------------------------------------------------------------------------------

    def start(self) -> FakeWechat:
        fake = self

        class Handler(_Handler):
            wechat = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-wechat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/cgi-bin/"

    @property
    def oauth_base(self) -> str:
        return f"{self.url}/sns/"

    @property
    def open_base(self) -> str:
        return f"{self.url}/"

    @property
    def mp_base(self) -> str:
        return f"{self.url}/cgi-bin/"

    # --- what it received ----------------------------------------------------------------------------

    def calls(self, path: str) -> list[Recorded]:
        with self.lock:
            return [item for item in self.requests if item.path == path]

    def count(self, path: str) -> int:
        return len(self.calls(path))

    # --- its data -------------------------------------------------------------------------------------

    def add_account(self, account: FakeAccount | None = None) -> FakeAccount:
        account = account or new_account()
        with self.lock:
            self.state.accounts[account.app_id] = account
        return account

    def add_follower(self, openid: str | None = None, **profile: Any) -> str:
        """A user of the account (a follower unless subscribe=0); `profile` overrides user/info's fields."""
        openid = openid or "o" + _random(_ALNUM + "-_", 27)
        with self.lock:
            self.state.users[openid] = {
                "subscribe": 1,
                "openid": openid,
                "nickname": "微信用户",
                "sex": 0,
                "language": "zh_CN",
                "city": "深圳",
                "province": "广东",
                "country": "中国",
                "headimgurl": f"{self.url}/avatar/{openid}.png",
                "subscribe_time": int(time.time()),
                "remark": "",
                "groupid": 0,
                "tagid_list": [],
                "subscribe_scene": "ADD_SCENE_QR_CODE",
                "qr_scene": 0,
                "qr_scene_str": "",
                **profile,
            }
        return openid

    def add_media(self, content: bytes, media_type: str = "image", filename: str = "photo.jpg") -> str:
        media_id = _random(_ALNUM + "_-", 64)
        with self.lock:
            self.state.media[media_id] = (media_type, filename, content)
        return media_id

    def oauth_code(self, openid: str, scope: str = "snsapi_userinfo", app_id: str | None = None) -> str:
        """A code as the authorize page hands to the redirect URI, usable once."""
        code = _random(_ALNUM, 32)
        with self.lock:
            self.state.oauth_codes[code] = (app_id or self.account.app_id, openid, scope)
        return code

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (API calls with one get 42001)."""
        with self.lock:
            for issued in self.state.tokens.values():
                issued.expires_at = 0

    # --- failures ------------------------------------------------------------------------------------

    def _fail(self, failure: _Failure) -> None:
        with self.lock:
            self.state.failures.append(failure)

    def fail_invalid_token(self, times: int = 1, errcode: int = 40001, path: str | None = None) -> None:
        self._fail(_Failure(path, times, errcode, "invalid credential, access_token is invalid or not latest"))

    def fail_outside_window(self, openid: str) -> None:
        """Customer-service messages to `openid` get 45015 (its 48 hours are over) until `inside_window`."""
        with self.lock:
            self.state.outside_window.add(openid)

    def inside_window(self, openid: str) -> None:
        with self.lock:
            self.state.outside_window.discard(openid)

    def fail_rate_limit(self, times: int = 1, path: str | None = None) -> None:
        self._fail(_Failure(path, times, 45009, "reach max api daily quota limit"))

    def fail_errcode(self, errcode: int, errmsg: str, times: int = 1, path: str | None = None) -> None:
        self._fail(_Failure(path, times, errcode, errmsg))

    def fail_slow(self, seconds: float, times: int = 1, path: str | None = None) -> None:
        """Answer `times` calls only after `seconds` (then normally): longer than the client's timeout."""
        self._fail(_Failure(path, times, delay=seconds))

    def fail_server_error(self, times: int = 1, status: int = 502, path: str | None = None) -> None:
        self._fail(_Failure(path, times, status=status))

    def _failure_for(self, path: str) -> _Failure | None:
        with self.lock:
            for failure in self.state.failures:
                if failure.path == path or (failure.path is None and path != TOKEN_PATH):
                    failure.times -= 1
                    if failure.times <= 0:
                        self.state.failures.remove(failure)
                    return failure
        return None

    # --- the callback: what WeChat posts to GoFly --------------------------------------------------

    def signed(self, xml: str, mode: str = "plaintext", **options: Any) -> SignedCallback:
        """`xml` signed (and encrypted, in "safe" and "compatible" mode) with this fake's account."""
        return signed_callback(xml, self.account, mode=mode, **options)

    def deliver(self, url: str, xml: str, mode: str = "plaintext", **options: Any) -> tuple[int, bytes]:
        """POST `xml` to GoFly's callback `url` as WeChat does: (status, body) of the answer."""
        return self.signed(xml, mode, **options).post(url)

    def verify(self, url: str, echostr: str | None = None) -> tuple[int, bytes]:
        """WeChat's URL verification: a signed GET with an echostr the callback must answer with."""
        query = dict(signature_query(self.account.token), echostr=echostr or _random(string.digits, 19))
        return _send(f"{url}?{urlencode(query)}", None)


# --- the HTTP side -------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    wechat: FakeWechat
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the records say what came

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = Recorded(method, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)), body)
        if body and not self._content_type().startswith("multipart/"):
            try:  # wechatpy posts JSON without saying so
                record.json = json.loads(body)
            except ValueError:
                record.json = None
        with self.wechat.lock:
            self.wechat.requests.append(record)
        try:
            status, headers, answer = _Api(self.wechat, record, self._content_type()).answer()
        except Exception:  # the fake's own bug: visible to the test, answered like WeChat's outage
            self.wechat.errors.append(traceback.format_exc())
            status, headers, answer = 500, {}, b"fake wechat error"
        record.status = status
        record.answer = answer
        self._write(status, headers, answer)

    def _content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").lower()

    def _write(self, status: int, headers: dict[str, str], answer: Any) -> None:
        if isinstance(answer, dict):
            payload = json.dumps(answer, ensure_ascii=False).encode()
            headers = {"Content-Type": "application/json; encoding=utf-8", **headers}
        else:
            payload = answer
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout)


class _Api:
    """One request's answer: (status, headers, JSON dict or bytes)."""

    def __init__(self, wechat: FakeWechat, record: Recorded, content_type: str) -> None:
        self.wechat = wechat
        self.state = wechat.state
        self.record = record
        self.query = record.query
        self.content_type = content_type

    def answer(self) -> tuple[int, dict[str, str], Any]:
        path = self.record.path
        route = _ROUTES.get((self.record.method, path))
        if route is None:
            return 404, {}, _err(-1, f"no such endpoint {path}")
        failure = self.wechat._failure_for(path)
        if failure is not None:
            if failure.delay:
                self.wechat._stopping.wait(failure.delay)
            elif failure.status:
                return failure.status, {"Content-Type": "text/html"}, b"<html>502 Bad Gateway</html>"
            else:
                return 200, {}, _err(failure.errcode, failure.errmsg)
        handler, needs_token = route
        if needs_token:
            refused = self._token_refusal()
            if refused:
                return 200, {}, refused
        return handler(self)

    def _token_refusal(self) -> dict[str, Any] | None:
        token = self.query.get("access_token")
        if not token:
            return _err(41001, "access_token missing")
        with self.wechat.lock:
            issued = self.state.tokens.get(token)
        if issued is None:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        if issued.expires_at <= time.time():
            return _err(42001, "access_token expired")
        return None

    def _app(self) -> FakeAccount | None:
        return self.state.accounts.get(self.query.get("appid", ""))

    def _body(self) -> dict[str, Any] | None:
        data = self.record.json
        return data if isinstance(data, dict) else None

    # --- /cgi-bin -------------------------------------------------------------------------------------

    def token(self) -> tuple[int, dict[str, str], Any]:
        if self.query.get("grant_type") != "client_credential":
            return 200, {}, _err(40002, "invalid grant_type")
        account = self._app()
        if account is None:
            return 200, {}, _err(40013, "invalid appid")
        if self.query.get("secret") != account.app_secret:
            return 200, {}, _err(40125, "invalid appsecret")
        token = _random(_ALNUM + "_-", 136)
        with self.wechat.lock:
            self.state.tokens[token] = _Issued(account.app_id, time.time() + self.wechat.token_ttl)
        return 200, {}, {"access_token": token, "expires_in": self.wechat.token_ttl}

    def _user(self, openid: object) -> dict[str, Any] | None:
        return self.state.users.get(openid) if isinstance(openid, str) else None

    def custom_send(self) -> tuple[int, dict[str, str], Any]:
        data = self._body()
        if data is None:
            return 200, {}, _err(47001, "data format error")
        openid = data.get("touser")
        if self._user(openid) is None:
            return 200, {}, _err(40003, "invalid openid")
        msgtype = data.get("msgtype")
        content = data.get(msgtype) if isinstance(msgtype, str) else None
        if not isinstance(content, dict):
            return 200, {}, _err(40008, "invalid message type")
        if msgtype == "text" and not content.get("content"):
            return 200, {}, _err(44003, "empty news data")
        if msgtype in ("image", "voice", "video") and content.get("media_id") not in self.state.media:
            return 200, {}, _err(40007, "invalid media_id")
        if openid in self.state.outside_window:
            return 200, {}, _err(45015, "response out of time limit or subscription is canceled")
        return 200, {}, _ok()

    def template_send(self) -> tuple[int, dict[str, str], Any]:
        data = self._body()
        if data is None:
            return 200, {}, _err(47001, "data format error")
        if self._user(data.get("touser")) is None:
            return 200, {}, _err(40003, "invalid openid")
        if not data.get("template_id"):
            return 200, {}, _err(40037, "invalid template_id")
        return 200, {}, _ok(msgid=secrets.randbelow(10**12))

    def media_upload(self) -> tuple[int, dict[str, str], Any]:
        media_type = self.query.get("type", "")
        if media_type not in ("image", "voice", "video", "thumb"):
            return 200, {}, _err(40004, "invalid media type")
        if not self.content_type.startswith("multipart/form-data"):
            return 200, {}, _err(41005, "media data missing")
        head = f"Content-Type: {self.content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self.record.body)
        for part in message.iter_parts() if message.is_multipart() else []:
            if part.get_param("name", header="content-disposition") == "media":
                content = part.get_payload(decode=True)
                if not isinstance(content, bytes) or not content:
                    break
                media_id = self.wechat.add_media(content, media_type, part.get_filename() or "media")
                return 200, {}, {"type": media_type, "media_id": media_id, "created_at": int(time.time())}
        return 200, {}, _err(41005, "media data missing")

    def media_get(self) -> tuple[int, dict[str, str], Any]:
        found = self.state.media.get(self.query.get("media_id", ""))
        if found is None:
            return 200, {}, _err(40007, "invalid media_id")
        media_type, filename, content = found
        kinds = {"image": "image/jpeg", "voice": "audio/amr", "video": "video/mp4", "thumb": "image/jpeg"}
        headers = {
            "Content-Type": kinds.get(media_type, "application/octet-stream"),
            "Content-disposition": f'attachment; filename="{filename}"',
        }
        return 200, headers, content

    def user_info(self) -> tuple[int, dict[str, str], Any]:
        user = self._user(self.query.get("openid"))
        if user is None:
            return 200, {}, _err(40003, "invalid openid")
        if not user.get("subscribe"):
            return 200, {}, {"subscribe": 0, "openid": user["openid"]}
        return 200, {}, dict(user)

    def qrcode_create(self) -> tuple[int, dict[str, str], Any]:
        data = self._body()
        if data is None or data.get("action_name") not in (
            "QR_SCENE",
            "QR_STR_SCENE",
            "QR_LIMIT_SCENE",
            "QR_LIMIT_STR_SCENE",
        ):
            return 200, {}, _err(40053, "invalid action info")
        scene = (data.get("action_info") or {}).get("scene") if isinstance(data.get("action_info"), dict) else None
        if not isinstance(scene, dict):
            return 200, {}, _err(40053, "invalid action info")
        if "STR" in data["action_name"]:
            # WeChat's rule: a scene string of 1 to 64 characters.
            if not isinstance(scene.get("scene_str"), str) or not 1 <= len(scene["scene_str"]) <= 64:
                return 200, {}, _err(40053, "invalid action info")
        elif not isinstance(scene.get("scene_id"), int):
            return 200, {}, _err(40053, "invalid action info")
        if "LIMIT" not in data["action_name"] and not 1 <= int(data.get("expire_seconds") or 60) <= 2592000:
            return 200, {}, _err(40053, "invalid expire_seconds")
        ticket = _random(_ALNUM, 96)
        with self.wechat.lock:
            self.state.qrcodes[ticket] = data
        answer: dict[str, Any] = {"ticket": ticket, "url": f"http://weixin.qq.com/q/{_random(_ALNUM, 22)}"}
        if "LIMIT" not in data["action_name"]:
            answer["expire_seconds"] = int(data.get("expire_seconds") or 60)
        return 200, {}, answer

    def qrcode_show(self) -> tuple[int, dict[str, str], Any]:
        if self.query.get("ticket", "") not in self.state.qrcodes:
            return 404, {"Content-Type": "text/plain"}, b"no such ticket"
        return 200, {"Content-Type": "image/png"}, _PNG

    def menu_create(self) -> tuple[int, dict[str, str], Any]:
        data = self._body()
        buttons = data.get("button") if data else None
        if not isinstance(buttons, list) or not buttons:
            return 200, {}, _err(47001, "data format error")
        refusal = _menu_refusal(buttons)
        if refusal:
            return 200, {}, refusal
        with self.wechat.lock:
            self.state.menu = {"button": buttons}
        return 200, {}, _ok()

    def menu_get(self) -> tuple[int, dict[str, str], Any]:
        if self.state.menu is None:
            return 200, {}, _err(46003, "menu no exist")
        return 200, {}, {"menu": self.state.menu}

    def menu_delete(self) -> tuple[int, dict[str, str], Any]:
        with self.wechat.lock:
            self.state.menu = None
        return 200, {}, _ok()

    # --- web OAuth (/connect, /sns) -------------------------------------------------------------------

    def authorize(self) -> tuple[int, dict[str, str], Any]:
        account = self._app()
        scope = self.query.get("scope")
        redirect = self.query.get("redirect_uri", "")
        if account is None or scope not in ("snsapi_base", "snsapi_userinfo") or not redirect:
            return 400, {"Content-Type": "text/plain; charset=utf-8"}, "参数错误".encode()
        if self.wechat.oauth_follower is None:
            return 403, {"Content-Type": "text/plain; charset=utf-8"}, "请在微信客户端打开链接".encode()
        code = self.wechat.oauth_code(self.wechat.oauth_follower, scope, account.app_id)
        joiner = "&" if "?" in redirect else "?"
        location = f"{redirect}{joiner}{urlencode({'code': code, 'state': self.query.get('state', '')})}"
        return 302, {"Location": location}, b""

    def _oauth_issue(self, openid: str, scope: str) -> dict[str, Any]:
        token, refresh = _random(_ALNUM, 90), _random(_ALNUM, 90)
        with self.wechat.lock:
            self.state.oauth_tokens[token] = _OAuthToken(openid, scope, time.time() + 7200)
            self.state.oauth_refresh[refresh] = (openid, scope)
        return {"access_token": token, "expires_in": 7200, "refresh_token": refresh, "openid": openid, "scope": scope}

    def sns_access_token(self) -> tuple[int, dict[str, str], Any]:
        account = self._app()
        if account is None:
            return 200, {}, _err(40013, "invalid appid")
        if self.query.get("secret") != account.app_secret:
            return 200, {}, _err(40125, "invalid appsecret")
        if self.query.get("grant_type") != "authorization_code":
            return 200, {}, _err(40002, "invalid grant_type")
        with self.wechat.lock:
            found = self.state.oauth_codes.pop(self.query.get("code", ""), None)
        if found is None or found[0] != account.app_id:
            return 200, {}, _err(40029, "invalid code")
        return 200, {}, self._oauth_issue(found[1], found[2])

    def sns_refresh(self) -> tuple[int, dict[str, str], Any]:
        if self._app() is None:
            return 200, {}, _err(40013, "invalid appid")
        found = self.state.oauth_refresh.get(self.query.get("refresh_token", ""))
        if found is None or self.query.get("grant_type") != "refresh_token":
            return 200, {}, _err(40030, "invalid refresh_token")
        return 200, {}, self._oauth_issue(*found)

    def _oauth_token(self) -> tuple[_OAuthToken | None, dict[str, Any] | None]:
        issued = self.state.oauth_tokens.get(self.query.get("access_token", ""))
        if issued is None:
            return None, _err(40001, "invalid credential, access_token is invalid or not latest")
        if issued.expires_at <= time.time():
            return None, _err(42001, "access_token expired")
        if issued.openid != self.query.get("openid"):
            return None, _err(40003, "invalid openid")
        return issued, None

    def sns_userinfo(self) -> tuple[int, dict[str, str], Any]:
        issued, refusal = self._oauth_token()
        if issued is None:
            return 200, {}, refusal
        if issued.scope != "snsapi_userinfo":
            return 200, {}, _err(48001, "api unauthorized")
        user = self.state.users.get(issued.openid) or {"openid": issued.openid}
        fields = ("openid", "nickname", "sex", "province", "city", "country", "headimgurl")
        return 200, {}, {**{name: user.get(name, "") for name in fields}, "privilege": []}

    def sns_auth(self) -> tuple[int, dict[str, str], Any]:
        _issued, refusal = self._oauth_token()
        return 200, {}, refusal or _ok()


# (method, path) -> (handler, whether it needs an access token the token endpoint issued)
_ROUTES: dict[tuple[str, str], tuple[Any, bool]] = {
    ("GET", TOKEN_PATH): (_Api.token, False),
    ("POST", CUSTOM_SEND_PATH): (_Api.custom_send, True),
    ("POST", TEMPLATE_SEND_PATH): (_Api.template_send, True),
    ("POST", "/cgi-bin/media/upload"): (_Api.media_upload, True),
    ("GET", "/cgi-bin/media/get"): (_Api.media_get, True),
    ("GET", "/cgi-bin/user/info"): (_Api.user_info, True),
    ("POST", "/cgi-bin/qrcode/create"): (_Api.qrcode_create, True),
    ("GET", "/cgi-bin/showqrcode"): (_Api.qrcode_show, False),
    ("POST", "/cgi-bin/menu/create"): (_Api.menu_create, True),
    ("GET", "/cgi-bin/menu/get"): (_Api.menu_get, True),
    ("GET", "/cgi-bin/menu/delete"): (_Api.menu_delete, True),
    ("GET", "/connect/oauth2/authorize"): (_Api.authorize, False),
    ("GET", "/sns/oauth2/access_token"): (_Api.sns_access_token, False),
    ("GET", "/sns/oauth2/refresh_token"): (_Api.sns_refresh, False),
    ("GET", "/sns/userinfo"): (_Api.sns_userinfo, False),
    ("GET", "/sns/auth"): (_Api.sns_auth, False),
}


def _menu_refusal(buttons: list[Any]) -> dict[str, Any] | None:
    """WeChat's menu limits: 1-3 buttons, 1-5 sub-buttons each, names of 16 / 60 bytes at most."""
    if len(buttons) > 3:
        return _err(40016, "invalid button size")
    for button in buttons:
        if not isinstance(button, dict) or not button.get("name"):
            return _err(40018, "invalid button name size")
        if len(str(button["name"]).encode()) > 16:
            return _err(40018, "invalid button name size")
        subs = button.get("sub_button")
        if subs:
            if len(subs) > 5:
                return _err(40023, "invalid sub button size")
            for sub in subs:
                if not isinstance(sub, dict) or not sub.get("name") or len(str(sub["name"]).encode()) > 60:
                    return _err(40019, "invalid sub button name size")
        elif button.get("type") not in ("click", "view", "miniprogram", "scancode_push", "location_select"):
            return _err(40017, "invalid button type")
    return None


# --- messages WeChat posts to the callback -------------------------------------------------------------


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(fields: dict[str, Any]) -> str:
    """WeChat's XML for `fields` in order: strings in CDATA, numbers bare."""
    inner = "".join(
        f"<{name}>{value}</{name}>" if isinstance(value, int | float) else f"<{name}>{_cdata(str(value))}</{name}>"
        for name, value in fields.items()
    )
    return f"<xml>{inner}</xml>"


def new_msg_id() -> int:
    return secrets.randbelow(9 * 10**18) + 10**18


def _message(to: str, openid: str, kind: str, msg_id: int | None, create_time: int | None, **rest: Any) -> str:
    fields: dict[str, Any] = {
        "ToUserName": to,
        "FromUserName": openid,
        "CreateTime": create_time or int(time.time()),
        "MsgType": kind,
        **rest,
        "MsgId": msg_id or new_msg_id(),
    }
    return message_xml(fields)


def text_xml(*, to: str, openid: str, content: str, msg_id: int | None = None, create_time: int | None = None) -> str:
    return _message(to, openid, "text", msg_id, create_time, Content=content)


def image_xml(
    *, to: str, openid: str, media_id: str, pic_url: str = "", msg_id: int | None = None, create_time: int | None = None
) -> str:
    pic_url = pic_url or f"http://mmbiz.qpic.cn/mmbiz_jpg/{media_id[:16]}/0"
    return _message(to, openid, "image", msg_id, create_time, PicUrl=pic_url, MediaId=media_id)


def voice_xml(
    *,
    to: str,
    openid: str,
    media_id: str,
    recognition: str | None = None,
    voice_format: str = "amr",
    msg_id: int | None = None,
    create_time: int | None = None,
) -> str:
    """A voice message; `recognition`: WeChat's speech-to-text of it (present when the account turned it on)."""
    extra: dict[str, Any] = {"MediaId": media_id, "Format": voice_format}
    if recognition is not None:
        extra["Recognition"] = recognition
    return _message(to, openid, "voice", msg_id, create_time, **extra)


def video_xml(
    *,
    to: str,
    openid: str,
    media_id: str,
    thumb_media_id: str,
    short: bool = False,
    msg_id: int | None = None,
    create_time: int | None = None,
) -> str:
    kind = "shortvideo" if short else "video"
    return _message(to, openid, kind, msg_id, create_time, MediaId=media_id, ThumbMediaId=thumb_media_id)


def location_xml(
    *,
    to: str,
    openid: str,
    latitude: float,
    longitude: float,
    scale: int = 15,
    label: str = "",
    msg_id: int | None = None,
    create_time: int | None = None,
) -> str:
    extra = {"Location_X": latitude, "Location_Y": longitude, "Scale": scale, "Label": label}
    return _message(to, openid, "location", msg_id, create_time, **extra)


def link_xml(
    *,
    to: str,
    openid: str,
    title: str,
    description: str,
    url: str,
    msg_id: int | None = None,
    create_time: int | None = None,
) -> str:
    return _message(to, openid, "link", msg_id, create_time, Title=title, Description=description, Url=url)


def _event(to: str, openid: str, event: str, create_time: int | None, **rest: Any) -> str:
    fields = {"ToUserName": to, "FromUserName": openid, "CreateTime": create_time or int(time.time())}
    return message_xml({**fields, "MsgType": "event", "Event": event, **rest})


def subscribe_xml(
    *, to: str, openid: str, scene: str | None = None, ticket: str = "", create_time: int | None = None
) -> str:
    """A follow; with `scene`, by scanning a parametric QR code (EventKey qrscene_<scene>, and its Ticket)."""
    if scene is None:
        return _event(to, openid, "subscribe", create_time, EventKey="")
    ticket = ticket or _random(_ALNUM, 96)
    return _event(to, openid, "subscribe", create_time, EventKey=f"qrscene_{scene}", Ticket=ticket)


def unsubscribe_xml(*, to: str, openid: str, create_time: int | None = None) -> str:
    return _event(to, openid, "unsubscribe", create_time, EventKey="")


def scan_xml(*, to: str, openid: str, scene: str, ticket: str = "", create_time: int | None = None) -> str:
    """A follower scanning a parametric QR code (EventKey: the scene itself)."""
    return _event(to, openid, "SCAN", create_time, EventKey=scene, Ticket=ticket or _random(_ALNUM, 96))


# --- signing and sending --------------------------------------------------------------------------------


def _sha1(*parts: str) -> str:
    # WeChat's signature, computed here on its own (not by wechatpy) so that the tests check one against the other.
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signature_query(token: str, *, timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or _random(string.digits, 10)
    return {"signature": _sha1(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}


@dataclass(frozen=True)
class SignedCallback:
    """A callback request as WeChat makes it: the query string's parameters and the XML body."""

    query: dict[str, str]
    body: bytes

    def path_with_query(self, path: str) -> str:
        """For Django's test client: client.post(signed.path_with_query(path), signed.body, "text/xml")."""
        return f"{path}?{urlencode(self.query)}"

    def post(self, url: str, timeout: float = 10) -> tuple[int, bytes]:
        return _send(f"{url}?{urlencode(self.query)}", self.body, timeout)


def _openid_of(xml: str) -> str:
    return str(xmltodict.parse(xml)["xml"].get("FromUserName") or "")


def signed_callback(
    xml: str,
    account: FakeAccount,
    *,
    mode: str = "plaintext",
    timestamp: str | None = None,
    nonce: str | None = None,
) -> SignedCallback:
    """`xml` as WeChat posts it in `mode`: "plaintext" (signed), "safe" (AES-encrypted with the account's
    EncodingAESKey, encrypt_type=aes, msg_signature) or "compatible" (both: the plaintext fields beside
    the Encrypt element)."""
    query = signature_query(account.token, timestamp=timestamp, nonce=nonce)
    query["openid"] = _openid_of(xml)
    if mode == "plaintext":
        return SignedCallback(query, xml.encode())
    if mode not in ("safe", "compatible"):
        raise ValueError(f"unknown mode {mode!r}")
    crypto = WeChatCrypto(account.token, account.encoding_aes_key, account.app_id)
    envelope = crypto.encrypt_message(xml, query["nonce"], query["timestamp"])
    encrypted = str(xmltodict.parse(envelope)["xml"]["Encrypt"])
    query.update(encrypt_type="aes", msg_signature=_sha1(account.token, query["timestamp"], query["nonce"], encrypted))
    if mode == "compatible":
        return SignedCallback(query, _compatible_xml(xml, encrypted).encode())
    return SignedCallback(query, message_xml({"ToUserName": account.original_id, "Encrypt": encrypted}).encode())


def _compatible_xml(xml: str, encrypted: str) -> str:
    # The plaintext message exactly as in plaintext mode, with the Encrypt element added before its end.
    return xml.removesuffix("</xml>") + f"<Encrypt>{_cdata(encrypted)}</Encrypt></xml>"


def _send(url: str, body: bytes | None, timeout: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    if body is not None:
        request.add_header("Content-Type", "text/xml")
        request.add_header("User-Agent", "Mozilla/4.0")  # what WeChat's servers send
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()
