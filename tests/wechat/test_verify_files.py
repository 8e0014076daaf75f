"""Domain verification files (MP_verify_*.txt): uploaded by an enterprise's admin in /manage/, served at the
site root as text/plain to the domain they were uploaded for (any domain when none), 404 otherwise; one
enterprise never sees, replaces or deletes another's."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from core.errors import ChatError
from enterprises.models import AuditAction, AuditEntry, Enterprise
from tests.conftest import AGENT_PASSWORD
from wechat.models import WechatVerifyFile
from wechat.services import wechat_verify_file_delete, wechat_verify_file_upload

pytestmark = pytest.mark.django_db

PAGE = "/manage/wechat/verify-files/"
NAME = "MP_verify_Ab12Cd34Ef56Gh78.txt"
CODE = "Ab12Cd34Ef56Gh78"


@pytest.fixture(autouse=True)
def hosts(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "chat.example.com", "other.example.com", "shop.example.org"]


@pytest.fixture
def boss(enterprise: Enterprise, agent: User) -> User:
    return agent_create(enterprise=enterprise, username="vboss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)


@pytest.fixture
def other_boss(other_enterprise: Enterprise) -> User:
    return agent_create(
        enterprise=other_enterprise, username="globexboss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN
    )


def signed_in(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(User.objects.get(pk=user.pk))
    return client


def upload(client: Client, name: str = NAME, content: bytes = CODE.encode(), domain: str = "") -> Any:
    file = SimpleUploadedFile(name, content, content_type="text/plain")
    return client.post(PAGE, {"action": "upload", "file": file, "domain": domain})


def notes(answer: Any) -> list[str]:
    """The messages the page shows (Django's messages framework)."""
    return [str(message) for message in answer.context["messages"]]


def fetch(path: str, host: str = "testserver") -> Any:
    return Client().get(path, headers={"host": host})


def test_an_uploaded_file_is_listed_and_served_at_the_root_as_plain_text(enterprise, boss):
    client = signed_in(boss)
    assert PAGE in client.get("/manage/").content.decode()
    assert upload(client, content=CODE.encode() + b"\n").status_code == 302
    stored = WechatVerifyFile.objects.get()
    assert (stored.enterprise_id, stored.name, stored.content, stored.domain) == (enterprise.pk, NAME, CODE, "")
    assert NAME in client.get(PAGE).content.decode()
    for host in ("testserver", "chat.example.com", "chat.example.com:8443"):
        answer = fetch(f"/{NAME}", host)
        assert answer.status_code == 200, host
        assert answer.content == CODE.encode() and answer["Content-Type"].startswith("text/plain")
    entry = AuditEntry.objects.get(action=AuditAction.SETTINGS_CHANGED, target_type="wechat_verify_file")
    assert entry.details == {"wechat": "verify_file_added", "domain": ""} and entry.target_name == NAME


def test_a_file_with_a_domain_is_served_to_that_host_only_and_404_elsewhere(enterprise, boss):
    assert upload(signed_in(boss), domain=" Chat.Example.com. ").status_code == 302
    assert WechatVerifyFile.objects.get().domain == "chat.example.com"
    assert fetch(f"/{NAME}", "chat.example.com").content == CODE.encode()
    assert fetch(f"/{NAME}", "CHAT.example.com:8000").status_code == 200  # host names are case-blind; port ignored
    for host in ("other.example.com", "testserver", "shop.example.org"):
        assert fetch(f"/{NAME}", host).status_code == 404, host
    assert fetch("/MP_verify_Zz99.txt", "chat.example.com").status_code == 404  # another name
    assert fetch(f"/{NAME}x", "chat.example.com").status_code == 404
    assert fetch(f"/static/{NAME}", "chat.example.com").status_code == 404
    assert Client().post(f"/{NAME}", headers={"host": "chat.example.com"}).status_code == 405


def test_the_hosts_own_file_wins_over_one_for_any_domain(enterprise, boss, other_boss):
    upload(signed_in(other_boss), content=b"ForAnyDomain1")
    upload(signed_in(boss), content=b"ForChatOnly2", domain="chat.example.com")
    assert fetch(f"/{NAME}", "chat.example.com").content == b"ForChatOnly2"
    assert fetch(f"/{NAME}", "other.example.com").content == b"ForAnyDomain1"


def test_uploading_the_same_name_and_domain_again_replaces_the_content(enterprise, boss):
    client = signed_in(boss)
    upload(client, content=b"first1")
    assert upload(client, content=b"second2").status_code == 302
    assert WechatVerifyFile.objects.get().content == "second2"
    assert fetch(f"/{NAME}").content == b"second2"


def test_another_enterprise_cannot_take_a_file_already_served_for_its_domain(enterprise, boss, other_boss):
    upload(signed_in(boss))
    upload(signed_in(boss), domain="chat.example.com")
    theirs = signed_in(other_boss)
    for domain, where in (("", "for every domain"), ("chat.example.com", "for chat.example.com")):
        answer = upload(theirs, content=b"Theirs9", domain=domain)
        text = html.unescape(answer.content.decode())
        assert answer.status_code == 400 and 'id="wechat-verify-error"' in text
        assert f"Another enterprise already serves {NAME} {where}." in text and "Enter the domain" in text
    assert set(WechatVerifyFile.objects.values_list("content", flat=True)) == {CODE}
    assert upload(theirs, content=b"Theirs9", domain="shop.example.org").status_code == 302  # their own domain
    assert fetch(f"/{NAME}", "shop.example.org").content == b"Theirs9"
    assert fetch(f"/{NAME}", "chat.example.com").content == CODE.encode()


@pytest.mark.parametrize(
    ("name", "content", "domain", "words"),
    [
        ("verify.txt", CODE.encode(), "", "named like MP_verify_"),
        ("MP_verify_Ab12 (1).txt", CODE.encode(), "", "named like MP_verify_"),
        ("MP_verify_.txt", CODE.encode(), "", "named like MP_verify_"),
        ("MP_verify_" + "a" * 33 + ".txt", CODE.encode(), "", "named like MP_verify_"),
        ("MP_verify_Ab12.html", CODE.encode(), "", "named like MP_verify_"),
        (NAME, b"A" * 1025, "", "at most 1 KB"),
        (NAME, b"<script>alert(1)</script>", "", "letters and digits"),
        (NAME, "验证码".encode(), "", "letters and digits"),
        (NAME, b"\xff\xfe\x00", "", "letters and digits"),
        (NAME, b"", "", "empty"),
        (NAME, b"A" * 129, "", "letters and digits"),
        (NAME, CODE.encode(), "https://chat.example.com/", "no http://"),
        (NAME, CODE.encode(), "chat.example.com:443", "no http://"),
        (NAME, CODE.encode(), "chat example.com", "no http://"),
        (NAME, CODE.encode(), "例子.com", "no http://"),
    ],
)
def test_a_wrong_file_or_domain_is_a_clear_form_error_and_nothing_is_stored(
    enterprise, boss, name, content, domain, words
):
    answer = upload(signed_in(boss), name, content, domain)
    assert answer.status_code == 400
    assert words in html.unescape(answer.content.decode())
    assert not WechatVerifyFile.objects.exists()


def test_an_upload_without_a_file_is_a_form_error(enterprise, boss):
    answer = signed_in(boss).post(PAGE, {"action": "upload", "domain": ""})
    assert answer.status_code == 400 and 'class="errorlist' in answer.content.decode()


def test_an_admin_deletes_their_file_and_it_is_no_longer_served(enterprise, boss):
    client = signed_in(boss)
    upload(client)
    file = WechatVerifyFile.objects.get()
    answer = client.post(PAGE, {"action": "delete", "id": str(file.pk)}, follow=True)
    assert "deleted" in answer.content.decode() and not WechatVerifyFile.objects.exists()
    assert fetch(f"/{NAME}").status_code == 404
    assert AuditEntry.objects.filter(details__wechat="verify_file_deleted", target_name=NAME).count() == 1
    for junk in ("", "abc", "-1", "99999999999999999999999", str(file.pk)):
        answer = client.post(PAGE, {"action": "delete", "id": junk}, follow=True)
        assert answer.status_code == 200 and "not found" in answer.content.decode()


def test_another_enterprises_admin_neither_sees_nor_deletes_the_file(enterprise, boss, other_boss):
    upload(signed_in(boss), domain="chat.example.com")
    file = WechatVerifyFile.objects.get()
    theirs = signed_in(other_boss)
    page = theirs.get(PAGE).content.decode()
    assert NAME not in page and CODE not in page and 'id="wechat-verify-none"' in page
    foreign = notes(theirs.post(PAGE, {"action": "delete", "id": str(file.pk)}, follow=True))
    missing = notes(theirs.post(PAGE, {"action": "delete", "id": "999999"}, follow=True))
    assert foreign == missing == ["Verification file not found."]
    assert WechatVerifyFile.objects.filter(pk=file.pk).exists()
    with pytest.raises(ChatError) as refused:
        wechat_verify_file_delete(actor=User.objects.get(pk=other_boss.pk), file_id=file.pk)
    assert refused.value.code == "not_found"


def test_a_plain_agent_and_a_stranger_can_neither_upload_nor_delete(enterprise, agent, boss):
    upload(signed_in(boss))
    file = WechatVerifyFile.objects.get()
    plain = signed_in(agent)
    assert plain.get(PAGE).status_code == 403
    assert upload(plain, content=b"Mine1").status_code == 403
    assert plain.post(PAGE, {"action": "delete", "id": str(file.pk)}).status_code == 403
    anonymous = Client().post(PAGE, {"action": "delete", "id": str(file.pk)})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login?next=")
    assert WechatVerifyFile.objects.get().content == CODE
    with pytest.raises(ChatError) as refused:
        wechat_verify_file_upload(actor=agent, name=NAME, data=b"Mine1")
    assert refused.value.code == "forbidden"


def test_a_suspended_enterprises_file_is_not_served(enterprise, boss):
    upload(signed_in(boss))
    Enterprise.objects.filter(pk=enterprise.pk).update(is_active=False)
    assert fetch(f"/{NAME}").status_code == 404
