"""统一身份认证: logging in through a real OpenID Connect provider, end to end over HTTP.

The provider is node-oidc-provider (OpenID Certified), started by this module on 127.0.0.1 from
tests/oidc/provider.mjs with one client — yiwang, its redirect URI on the live server — and the accounts
in ACCOUNTS. yiwang is pytest-django's live server (a real HTTP server in a thread, on the test
database), addressed as "localhost" so that its cookies and the provider's live apart as two sites'
do. A `requests` session plays the browser: yiwang's /oidc/authenticate/ redirects to the provider,
the provider's login and consent forms are posted, the provider redirects to yiwang's callback, which
exchanges the code (PKCE, client_secret_basic), checks the RS256 ID token against the provider's JWKS,
fetches the UserInfo claims and logs the user in.

The provider is installed by scripts/ensure-oidc-provider (npm ci, pinned by tests/oidc/package-lock.json),
which scripts/run-tests runs first. When it cannot be installed these tests skip, except in CI (`CI`
set), where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from html.parser import HTMLParser
from importlib import import_module
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_DIR = ROOT / "tests" / "oidc"
CLIENT_ID, CLIENT_SECRET = "yiwang-test", "a-client-secret-for-the-test-only"
WANG_ID = "61040219500101123X"  # an existing resident with an account (resident_wang)
ZHAO_ID = "610402196005050046"  # an existing resident without an account (entered at a window)
NEW_ID = "610402198002020019"  # nobody yet
CLERK_ID = "610402197004040035"  # staff member clerk_xfl's resident record
# The provider's accounts: the login (also the `sub`) and its claims. The ID number is in a claim of
# the province's own naming, "cn_id_number", which yiwang is told through YIWANG_OIDC_ID_NUMBER_CLAIM.
ACCOUNTS = {
    "sub-wang": {"name": "王大爷", "phone_number": "+86 13800000001", "cn_id_number": WANG_ID},
    "sub-zhao": {"name": "赵大妈", "phone_number": "+86 13800000003", "cn_id_number": ZHAO_ID},
    "sub-new": {"name": "钱新来", "phone_number": "+86 138 0000 0009", "cn_id_number": NEW_ID},
    "sub-bad-checksum": {"name": "孙错号", "phone_number": "+86 13800000010", "cn_id_number": "610402198002020018"},
    "sub-no-phone": {"name": "周无号", "cn_id_number": "610402199003030029"},
    "sub-no-id": {"name": "吴无证", "phone_number": "+86 13800000011"},
    # Claims the e-mail address of staff member clerk_xfl, unverified, and nothing else that identifies.
    "sub-email-trap": {"name": "冒名者", "email": "clerk@example.gov.cn", "email_verified": False},
    "sub-clerk": {"name": "窗口人员"},  # staff: linked to clerk_xfl by its subject (org.oidc.link_create)
    # clerk_xfl's own ID number (the clerk is a resident too), from a subject nobody linked.
    "sub-clerk-by-id": {"name": "窗口人员", "phone_number": "+86 13800000012", "cn_id_number": CLERK_ID},
}
SCOPES = {"openid": ["sub"], "profile": ["name"], "phone": ["phone_number"], "email": ["email", "email_verified"],
          "cn_id": ["cn_id_number"]}

# scripts/run-tests runs a file on one worker (--dist loadfile): one provider is started, not one per worker.
pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _installed() -> None:
    """node-oidc-provider in tests/oidc/node_modules, or skip (fail in CI) saying why."""
    if shutil.which("node") and (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        return
    run = subprocess.run(["bash", str(ROOT / "scripts" / "ensure-oidc-provider")], capture_output=True, text=True,
                         timeout=600)
    if run.returncode != 0:
        reason = ("no OpenID Connect provider: scripts/ensure-oidc-provider could not install Node.js or "
                  f"node-oidc-provider ({(run.stdout + run.stderr).strip().splitlines()[-1:]})")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


class Provider:
    """A node-oidc-provider process on a free loopback port, with its own fresh RS256 signing key."""

    def __init__(self, tmp: Path, redirect_uri: str):
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        config = tmp / f"provider-{self.port}.json"
        home = redirect_uri.removesuffix("oidc/callback/")  # RP-initiated logout comes back to the home page
        config.write_text(json.dumps({"port": self.port, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                      "redirect_uri": redirect_uri, "post_logout_redirect_uri": home,
                                      "scopes": SCOPES, "accounts": ACCOUNTS}))
        self.log = tmp / f"provider-{self.port}.log"
        self.process = subprocess.Popen(["node", "provider.mjs", str(config)], cwd=PROVIDER_DIR,
                                        stdout=subprocess.PIPE, stderr=self.log.open("w"), text=True)
        line = self.process.stdout.readline()  # "ready <issuer>" once it listens; "" if it died
        if not line.startswith("ready "):
            self.stop()
            raise AssertionError(f"the OpenID provider did not start: {line!r} {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def site(live_server) -> str:
    # "localhost" for yiwang, 127.0.0.1 for the provider: two sites, two cookie jars, as in a browser.
    return live_server.url.replace("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def provider(site, tmp_path_factory):
    _installed()
    started = Provider(tmp_path_factory.mktemp("oidc"), site + "/oidc/callback/")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def stranger(site, tmp_path_factory, provider):
    """A second provider with the same client and accounts but a signing key of its own."""
    started = Provider(tmp_path_factory.mktemp("oidc-stranger"), site + "/oidc/callback/")
    yield started
    started.stop()


@pytest.fixture
def oidc(settings, provider):
    """Turn 统一身份认证 on, as YIWANG_OIDC_* in the environment would, against ``provider``."""
    import tests.oidc.urls  # noqa: F401 -- yiwang.urls imported before the client is set, as the site has it
    from yiwang.org import oidc

    settings.ROOT_URLCONF = "tests.oidc.urls"
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "yiwang.org.oidc.Backend"]
    settings.YIWANG_OIDC_ISSUER = provider.issuer
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    settings.OIDC_RP_SCOPES = "openid profile phone email cn_id"
    settings.YIWANG_OIDC_ID_NUMBER_CLAIM = "cn_id_number"
    oidc._discovery.clear()
    yield settings
    oidc._discovery.clear()


@pytest.fixture
def people(transactional_db):
    """The area and a community; 王大爷 (with an account), 赵大妈 (without), clerk_xfl (staff)."""
    from yiwang.org.models import Level, Role
    from yiwang.org.services import region_create, resident_create, staff_grant, unit_create, user_create

    area = region_create(code="XX", name="西咸新区", level=Level.AREA)
    city = region_create(code="KG", name="空港新城", level=Level.CITY, parent=area)
    town = region_create(code="KG-DZ", name="底张街道", level=Level.TOWN, parent=city)
    xfl = region_create(code="KG-DZ-XFL", name="幸福里社区", level=Level.COMMUNITY, parent=town)
    wang = user_create(username="resident_wang", password="pw-wang")
    resident_create(name="王大爷", phone="13800000001", region=xfl, id_number=WANG_ID, user=wang)
    resident_create(name="赵大妈", phone="13800000003", region=xfl, id_number=ZHAO_ID)
    clerk = user_create(username="clerk_xfl", password="pw-clerk")
    clerk.email = "clerk@example.gov.cn"
    clerk.save(update_fields=["email"])
    hall = unit_create(code="KG-DZ-XFL-SH", name="幸福里社区便民服务站", kind="service_hall", region=xfl)
    staff_grant(user=clerk, unit=hall, role=Role.CLERK)
    resident_create(name="窗口人员", phone="13800000012", region=xfl, id_number=CLERK_ID, user=clerk)
    return {"area": area, "wang": wang, "clerk": clerk}


class _Form(HTMLParser):
    """The first form of a page: its action and its inputs' values."""

    def __init__(self, html: str):
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = self._done = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self._done:
            self.action, self._in_form = attrs.get("action"), True
        elif tag == "input" and self._in_form and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form" and self._in_form:
            self._in_form, self._done = False, True


def _follow(browser: requests.Session, response: requests.Response, stop_at: str | None = None) -> requests.Response:
    """Follow redirects by hand (each hop stays visible), stopping before a URL starting with ``stop_at``."""
    for _hop in range(20):
        if response.status_code not in (301, 302, 303, 307, 308):
            return response
        target = urljoin(response.url, response.headers["Location"])
        if stop_at and target.startswith(stop_at):
            response.next_target = target  # type: ignore[attr-defined]
            return response
        response = browser.get(target, allow_redirects=False, timeout=20)
    raise AssertionError("too many redirects")


def _to_callback(site: str, login: str, next_url: str = "/me/cases/") -> tuple[requests.Session, str]:
    """Start at yiwang's login button, sign in at the provider as ``login`` and consent: the browser,
    and the callback URL the provider redirects it to (not yet followed)."""
    browser = requests.Session()
    page = browser.get(f"{site}/login/?next={next_url}", timeout=20)
    assert page.status_code == 200 and "统一身份认证登录" in page.text
    # The button is a link to /oidc/authenticate/ carrying ?next=.
    query = page.text.split('href="/oidc/authenticate/', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    answer = browser.get(f"{site}/oidc/authenticate/{query}", allow_redirects=False, timeout=20)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("http://127.0.0.1:")
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    answer = _follow(browser, answer)
    for prompt in ("login", "consent"):
        form = _Form(answer.text)
        assert answer.status_code == 200 and form.fields.get("prompt") == prompt, answer.text[:2000]
        if prompt == "login":
            form.fields.update(login=login, password="anything")
        answer = browser.post(urljoin(answer.url, form.action), data=form.fields, allow_redirects=False, timeout=20)
        answer = _follow(browser, answer, stop_at=f"{site}/oidc/callback/")
        if hasattr(answer, "next_target"):
            return browser, answer.next_target
    raise AssertionError("the provider did not redirect to yiwang's callback")


def _login(site: str, login: str, next_url: str = "/me/cases/") -> tuple[requests.Session, requests.Response]:
    """The whole flow: the browser and the page it lands on."""
    browser, callback = _to_callback(site, login, next_url)
    return browser, _follow(browser, browser.get(callback, allow_redirects=False, timeout=30))


def _logged_in_user_id(browser: requests.Session, site: str) -> int | None:
    """Whom yiwang's session cookie in ``browser`` is logged in as, read from the session store."""
    from django.conf import settings

    key = browser.cookies.get("sessionid")  # only yiwang sets one
    if not key:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    user_id = session.get("_auth_user_id")
    return int(user_id) if user_id else None


def _refused(page: requests.Response, site: str, text: str) -> None:
    assert page.status_code == 200 and page.url.startswith(f"{site}/login/"), (page.status_code, page.url)
    assert "统一身份认证登录失败" in page.text and text in page.text, page.text[-3000:]


def test_a_resident_lands_logged_in_as_the_matching_resident_and_again_as_the_same_user(oidc, site, people):
    from yiwang.org.models import OidcLink, Resident

    browser, page = _login(site, "sub-wang")
    assert page.status_code == 200 and page.url == f"{site}/me/cases/", (page.status_code, page.url)
    assert _logged_in_user_id(browser, site) == people["wang"].pk
    link = OidcLink.objects.get()
    assert (link.issuer, link.subject, link.user_id) == (oidc.YIWANG_OIDC_ISSUER, "sub-wang", people["wang"].pk)

    # A second login, from another browser, with the same subject: the same user, the same one link.
    again, page = _login(site, "sub-wang")
    assert page.url == f"{site}/me/cases/" and _logged_in_user_id(again, site) == people["wang"].pk
    assert OidcLink.objects.count() == 1 and Resident.objects.filter(id_number=WANG_ID).count() == 1


def test_a_resident_known_without_an_account_gets_one_and_a_newcomer_a_resident_record(oidc, site, people):
    from django.contrib.auth import get_user_model

    from yiwang.org.models import Resident

    browser, page = _login(site, "sub-zhao")
    zhao = Resident.objects.get(id_number=ZHAO_ID)
    assert zhao.user_id is not None and _logged_in_user_id(browser, site) == zhao.user_id
    assert not zhao.user.has_usable_password() and ZHAO_ID not in zhao.user.username

    browser, page = _login(site, "sub-new")
    assert page.url == f"{site}/me/cases/"
    new = Resident.objects.get(id_number=NEW_ID)
    assert _logged_in_user_id(browser, site) == new.user_id
    assert (new.name, new.phone, new.region, str(new.birth_date)) == ("钱新来", "13800000009", people["area"],
                                                                        "1980-02-02")
    again, _page = _login(site, "sub-new")
    assert _logged_in_user_id(again, site) == new.user_id
    assert Resident.objects.filter(id_number=NEW_ID).count() == 1
    assert get_user_model().objects.count() == 4  # wang, clerk, zhao's new account, the newcomer's


@pytest.mark.parametrize(("login", "message"), [
    ("sub-bad-checksum", "身份证号码无效"),
    ("sub-no-id", "身份提供方没有提供“cn_id_number”"),
    ("sub-no-phone", "身份提供方没有提供“phone_number”"),
])
def test_a_missing_or_invalid_claim_is_refused_with_a_message(oidc, site, people, login, message):
    from django.contrib.auth import get_user_model

    from yiwang.org.models import OidcLink, Resident

    users, residents = get_user_model().objects.count(), Resident.objects.count()
    browser, page = _login(site, login)
    _refused(page, site, message)
    assert _logged_in_user_id(browser, site) is None
    assert (get_user_model().objects.count(), Resident.objects.count(), OidcLink.objects.count()) == (users, residents, 0)


def test_an_unverified_email_claim_never_logs_in_as_its_owner(oidc, site, people):
    # mozilla-django-oidc's default would find clerk_xfl by this e-mail address and log in as them.
    browser, page = _login(site, "sub-email-trap")
    _refused(page, site, "cn_id_number")
    assert _logged_in_user_id(browser, site) is None


def test_staff_log_in_by_their_linked_subject(oidc, site, people):
    from yiwang.org import oidc as org_oidc

    org_oidc.link_create(user=people["clerk"], subject="sub-clerk")
    browser, page = _login(site, "sub-clerk", next_url="/work/")
    assert page.url == f"{site}/work/" and page.status_code == 200
    assert _logged_in_user_id(browser, site) == people["clerk"].pk


def test_a_staff_account_is_not_opened_by_an_id_number_claim_alone(oidc, site, people):
    from yiwang.org.models import OidcLink

    browser, page = _login(site, "sub-clerk-by-id", next_url="/work/")
    _refused(page, site, "工作人员账号须由管理员绑定")
    assert _logged_in_user_id(browser, site) is None and not OidcLink.objects.exists()


def test_a_tampered_or_replayed_state_is_refused(oidc, site, people):
    browser, callback = _to_callback(site, "sub-wang")
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    tampered = urlunsplit(parts._replace(query=urlencode({**query, "state": query["state"][:-1] + "x"})))
    _refused(_follow(browser, browser.get(tampered, allow_redirects=False, timeout=20)), site, "请重新登录")
    assert _logged_in_user_id(browser, site) is None

    # The genuine callback still works once; played again, its state is spent.
    page = _follow(browser, browser.get(callback, allow_redirects=False, timeout=30))
    assert page.url == f"{site}/me/cases/" and _logged_in_user_id(browser, site) == people["wang"].pk
    _refused(_follow(browser, browser.get(callback, allow_redirects=False, timeout=20)), site, "请重新登录")


def test_an_id_token_signed_by_a_key_outside_the_jwks_is_refused(oidc, site, people, stranger):
    # The token comes from `provider`, signed by its key; yiwang is told to trust the stranger's JWKS.
    oidc.OIDC_OP_JWKS_ENDPOINT = stranger.issuer + "/jwks"
    browser, page = _login(site, "sub-wang")
    _refused(page, site, "无法完成与身份提供方的验证")
    assert _logged_in_user_id(browser, site) is None


def test_an_id_token_from_another_issuer_is_refused(oidc, site, people, provider):
    # Endpoints set explicitly (no discovery), the issuer yiwang expects is not the one that signs.
    for name, suffix in [("OIDC_OP_AUTHORIZATION_ENDPOINT", "/auth"), ("OIDC_OP_TOKEN_ENDPOINT", "/token"),
                         ("OIDC_OP_USER_ENDPOINT", "/me"), ("OIDC_OP_JWKS_ENDPOINT", "/jwks")]:
        setattr(oidc, name, provider.issuer + suffix)
    oidc.YIWANG_OIDC_ISSUER = "https://sso.example.gov.cn"
    browser, page = _login(site, "sub-wang")
    _refused(page, site, "无法完成与身份提供方的验证")
    assert _logged_in_user_id(browser, site) is None


def test_off_without_a_client_no_button_and_no_route(client, people):
    # settings as the test process loaded them: no YIWANG_OIDC_CLIENT_ID.
    page = client.get("/login/")
    assert page.status_code == 200 and "统一身份认证登录" not in page.content.decode()
    answer = client.get("/oidc/authenticate/")
    assert answer.status_code == 404 and "<h1>页面不存在</h1>" in answer.content.decode()


def test_a_password_login_does_not_reach_the_provider(oidc, client, people, monkeypatch):
    # Django asks every backend; ours must not fetch discovery or tokens for a password.
    from yiwang.org import oidc as org_oidc

    monkeypatch.setattr(org_oidc, "_discover", lambda name: pytest.fail("discovery fetched for a password login"))
    started = time.monotonic()
    answer = client.post("/login/?code=x&state=y", {"username": "resident_wang", "password": "pw-wang"})
    assert answer.status_code == 302 and time.monotonic() - started < 10
    # Logged in by the password: her session, sent on to the page after a login, not to the provider.
    assert int(client.session["_auth_user_id"]) == people["wang"].pk
    assert not answer["Location"].startswith(("http://", "https://", "/oidc/")), answer["Location"]


# --- RP-initiated logout ------------------------------------------------------------------------------

def _csrf(browser: requests.Session, site: str) -> str:
    page = browser.get(f"{site}/me/cases/", timeout=20)
    return page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]


def _provider_asks_to_log_in(browser: requests.Session, site: str) -> bool:
    """Start another 统一身份认证 login in this browser: does the provider ask for the login again (its
    session is gone), or send the browser straight back to yiwang (it still knows the person)?"""
    answer = browser.get(f"{site}/oidc/authenticate/?next=/me/cases/", allow_redirects=False, timeout=20)
    answer = _follow(browser, answer, stop_at=f"{site}/oidc/callback/")
    if hasattr(answer, "next_target"):
        return False
    return _Form(answer.text).fields.get("prompt") == "login"


def test_logging_out_ends_the_providers_session_too(oidc, site, people, provider):
    browser, _page = _login(site, "sub-wang")
    assert _logged_in_user_id(browser, site) == people["wang"].pk
    answer = browser.post(f"{site}/logout/", data={"csrfmiddlewaretoken": _csrf(browser, site)},
                          headers={"Referer": f"{site}/me/cases/"}, allow_redirects=False, timeout=20)
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == provider.issuer  # on to the provider's end_session_endpoint
    query = parse_qs(target.query)
    assert query["client_id"] == [CLIENT_ID] and query["post_logout_redirect_uri"] == [f"{site}/"]
    assert _logged_in_user_id(browser, site) is None  # yiwang's session is over before the provider answers
    # The provider asks "sign out?" (node-oidc-provider's confirmation form); yes, and it sends us home.
    confirm = browser.get(answer.headers["Location"], allow_redirects=False, timeout=20)
    form = _Form(confirm.text)
    assert confirm.status_code == 200 and "xsrf" in form.fields, confirm.text[:1000]
    done = browser.post(urljoin(confirm.url, form.action), data={**form.fields, "logout": "yes"},
                        allow_redirects=False, timeout=20)
    assert done.status_code in (302, 303) and done.headers["Location"] == f"{site}/", done.text[:500]
    assert _provider_asks_to_log_in(browser, site)


def test_without_logging_out_the_provider_still_knows_the_person(oidc, site, people):
    # The control for the test above: the provider's own session is what lets a second login skip the form.
    browser, _page = _login(site, "sub-wang")
    assert not _provider_asks_to_log_in(browser, site)


def test_a_password_session_logs_out_of_yiwang_alone(oidc, site, people):
    browser = requests.Session()
    page = browser.get(f"{site}/login/", timeout=20)
    token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    browser.post(f"{site}/login/", data={"csrfmiddlewaretoken": token, "username": "resident_wang",
                                         "password": "pw-wang"}, headers={"Referer": f"{site}/login/"}, timeout=20)
    assert _logged_in_user_id(browser, site) == people["wang"].pk
    answer = browser.post(f"{site}/logout/", data={"csrfmiddlewaretoken": _csrf(browser, site)},
                          headers={"Referer": f"{site}/me/cases/"}, allow_redirects=False, timeout=20)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert _logged_in_user_id(browser, site) is None


def test_a_provider_without_end_session_endpoint_logs_out_of_yiwang_alone(oidc, site, people, monkeypatch):
    from yiwang.org import oidc as org_oidc

    browser, _page = _login(site, "sub-wang")
    document = {k: v for k, v in org_oidc._document().items() if k != "end_session_endpoint"}
    monkeypatch.setattr(org_oidc, "_document", lambda: document)
    answer = browser.post(f"{site}/logout/", data={"csrfmiddlewaretoken": _csrf(browser, site)},
                          headers={"Referer": f"{site}/me/cases/"}, allow_redirects=False, timeout=20)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert _logged_in_user_id(browser, site) is None


# --- linking staff: the command and the admin -----------------------------------------------------------

def test_yiwang_oidc_link_lets_a_staff_member_log_in_by_subject(oidc, site, people):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("oidc", "link", "clerk_xfl", "--sub", "sub-clerk", stdout=out)
    assert "linked clerk_xfl to sub-clerk" in out.getvalue()
    browser, page = _login(site, "sub-clerk", next_url="/work/")
    assert page.url == f"{site}/work/" and _logged_in_user_id(browser, site) == people["clerk"].pk
    out = StringIO()
    call_command("oidc", "list", stdout=out)
    assert out.getvalue().startswith(f"clerk_xfl\t{oidc.YIWANG_OIDC_ISSUER}\tsub-clerk\t20")  # last login shown
    call_command("oidc", "unlink", "clerk_xfl", "--sub", "sub-clerk", stdout=StringIO())
    browser, page = _login(site, "sub-clerk", next_url="/work/")
    _refused(page, site, "cn_id_number")  # no link, and no ID number claim: not a way in any more


def test_a_staff_member_logged_in_by_the_provider_is_still_asked_for_the_second_factor(oidc, site, people):
    from yiwang.org import oidc as org_oidc

    oidc.YIWANG_STAFF_2FA = "required"
    org_oidc.link_create(user=people["clerk"], subject="sub-clerk")
    browser, page = _login(site, "sub-clerk", next_url="/work/")
    assert _logged_in_user_id(browser, site) == people["clerk"].pk
    assert page.url.startswith(f"{site}/two-factor/?next=/work/"), page.url  # enrol first, as after a password
    assert browser.get(f"{site}/api/v1/me", timeout=20).json()["code"] == "second_factor_required"
