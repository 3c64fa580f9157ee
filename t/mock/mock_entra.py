#!/usr/bin/python3
"""Mock Microsoft Entra ID (plus an echo backend) for the mod_auth_entra tests.

    /usr/bin/python3 t/mock/mock_entra.py --port P --backend-port B [--verbose]

127.0.0.1:P speaks Entra's v1 and v2 endpoints (discovery, JWKS, authorize,
token, userinfo, end session), Graph's /v1.0/me and a JSON control API under
/_mock/ that the tests use to inject failures and bad tokens.  127.0.0.1:B
echoes every request back as JSON.  Prints "ready" once both listen; exits on
SIGTERM or SIGINT.  The contract is the "Mock Entra" section of the project's
spec; t/mock/README is the short version.

Standard library plus python3-cryptography only (Debian's), so that the test
suite needs no pip.  Every request gets an answer (or a deliberate "drop"):
handler errors become a 500 JSON reply, never a dead server.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import html
import json
import re
import secrets
import signal
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote_plus, unquote, urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

# --------------------------------------------------------------------------
# Test identities (exported by GET /_mock/info)

TENANT_ID = "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
TENANT_DOMAIN = "contoso.test"
CONSUMERS_TID = "9188040d-6c67-4c5b-b112-36a304b66dad"
CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
CLIENT_SECRET = "mock-Secret~value.123"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
FOREIGN_TID = "0b9d7f3e-5a4c-4e2b-9d1f-6c8a7e5b3d2f"   # wrong_tid / wrong_iss
FOREIGN_AUD = "3c1e5a7b-2d4f-4a6e-8b0c-9d1e2f3a4b5c"   # wrong_aud
DEFAULT_USER = {
    "oid": "00000000-0000-0000-66f3-3332eca7ea81",
    "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
    "name": "Adele Vance",
    "preferred_username": "adele@contoso.test",
    "email": "adele.vance@contoso.test",
    "roles": ["Task.Read", "Admin"],
    "groups": ["2f6a4c1e-0000-4000-8000-00000000a001",
               "2f6a4c1e-0000-4000-8000-00000000a002"],
}

ENDPOINTS = ("discovery", "jwks", "authorize", "token", "userinfo", "graph", "logout")
BAD_TOKEN_KINDS = ("wrong_aud", "wrong_iss", "wrong_nonce", "no_nonce", "expired",
                   "not_yet_valid", "bad_signature", "alg_none", "hs256_pubkey",
                   "unknown_kid", "wrong_tid")
CODE_TTL = 600          # Entra: codes are single use and live about ten minutes
TOKEN_TTL = 3599        # expires_in of Entra's token responses
BACKDATE = 300          # Entra back-dates iat/nbf by five minutes
MAX_BODY = 1 << 20      # refuse bodies larger than this (413)

# Descriptions of the AADSTS codes the mock sends (Microsoft's wording).
KNOWN_ERRORS = {
    7000215: "Invalid client secret provided. Ensure the secret being sent in the request is the "
             "client secret value, not the client secret ID, for a secret added to app '%s'.",
    54005: "OAuth2 Authorization code was already redeemed, please retry with a new valid code or "
           "use an existing refresh token.",
    70008: "The provided authorization code or refresh token has expired due to inactivity. Send a "
           "new interactive authorization request for this user and resource.",
    50148: "The code_verifier does not match the code_challenge supplied in the authorization "
           "request for PKCE.",
    70043: "The refresh token has expired or is invalid due to sign-in frequency checks by "
           "conditional access.",
    50076: "Due to a configuration change made by your administrator, or because you moved to a "
           "new location, you must use multi-factor authentication to access the resource.",
    700082: "The refresh token has expired due to inactivity.",
}

# --------------------------------------------------------------------------
# Small helpers


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_json(obj):
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


def b64u_uint(n):
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def guid():
    return str(uuid.uuid4())


def opaque(nbytes):
    """Random token material shaped like Entra's ("1.AXEA..." / "0.AXEA...")."""
    return b64u(secrets.token_bytes(nbytes))


def entra_time(t=None):
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))


def first_values(qs):
    """Query/form string -> {name: first value}; tolerant of any garbage."""
    return {k: v[0] for k, v in parse_qs(qs, keep_blank_values=True).items()}


def is_guid(s):
    try:
        return str(uuid.UUID(s)) == s.lower()
    except (ValueError, AttributeError, TypeError):
        return False


def resolve_tenant(segment):
    """Path tenant -> the tid template its documents use, or None if unknown.

    common/organizations give the literal "{tenantid}" (multi-tenant issuer
    template); consumers is the personal-accounts tenant."""
    s = segment.lower()
    if s in (TENANT_ID, TENANT_DOMAIN):
        return TENANT_ID
    if s in ("common", "organizations"):
        return "{tenantid}"
    if s in ("consumers", CONSUMERS_TID):
        return CONSUMERS_TID
    return None


def home_tid(template):
    """The tid a sign-in through that tenant path ends up with."""
    return CONSUMERS_TID if template == CONSUMERS_TID else TENANT_ID


class SigningKey:
    """RSA-2048 key with a self-signed cert; kid = x5t = b64url(SHA-1(DER))."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                             "accounts.accesscontrol.windows.net")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=5 * 365))
                .sign(self.key, hashes.SHA256()))
        self.der = cert.public_bytes(serialization.Encoding.DER)
        self.kid = b64u(hashlib.sha1(self.der).digest())
        self.public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, data):
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def jwk(self, issuer):
        pub = self.key.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
                "n": b64u_uint(pub.n), "e": b64u_uint(pub.e),
                "x5c": [base64.b64encode(self.der).decode()], "issuer": issuer,
                "cloud_instance_name": "microsoftonline.com"}


def jws(header, claims, key, bad=None):
    """Compact JWS; `bad` forges it in one of the bad_token ways."""
    if bad == "alg_none":
        return b64u_json({"typ": "JWT", "alg": "none"}) + "." + b64u_json(claims) + "."
    if bad == "hs256_pubkey":   # the classic RS256->HS256 key-confusion forgery
        header = dict(header, alg="HS256")
        si = (b64u_json(header) + "." + b64u_json(claims)).encode()
        return si.decode() + "." + b64u(hmac.new(key.public_pem, si, hashlib.sha256).digest())
    si = (b64u_json(header) + "." + b64u_json(claims)).encode()
    sig = bytearray(key.sign(si))
    if bad == "bad_signature":
        sig[len(sig) // 2] ^= 0x01
    return si.decode() + "." + b64u(bytes(sig))


# --------------------------------------------------------------------------
# Shared state: keys, switches, issued codes/tokens, stats


class Mock:
    def __init__(self, port, backend_port):
        self.base = "http://127.0.0.1:%d" % port
        self.backend_base = "http://127.0.0.1:%d" % backend_port
        self.lock = threading.RLock()
        self.keys = [SigningKey()]   # keys[0] signs; the rest only appear in the JWKS
        self.rogue = None            # for unknown_kid: made on first use, never published
        self.codes = {}              # code -> grant (dict), see authorize()
        self.refresh_tokens = {}     # refresh token -> grant
        self.access_tokens = {}      # access token -> (exp, user snapshot, grant)
        self.reset()

    def reset(self):
        with self.lock:
            self.user = dict(DEFAULT_USER)
            self.removed = set()     # claims a null in `user` removed (any claim)
            self.client_secret = CLIENT_SECRET
            self.switches = {"fail": {}, "slow": {}, "malformed": {}, "drop": {}}
            self.bad_token = None
            self.authorize_error = None
            self.token_error = None
            self.stats = {"requests": {e: 0 for e in ENDPOINTS}, "last": {}}

    def config_view(self):
        with self.lock:
            return {"user": self.user, "removed_claims": sorted(self.removed),
                    "client_secret": self.client_secret,
                    **{k: dict(v) for k, v in self.switches.items()},
                    "bad_token": self.bad_token, "authorize_error": self.authorize_error,
                    "token_error": self.token_error}

    def configure(self, cfg):
        """Merge a /_mock/config body; returns an error string or None.

        Validates everything before changing anything, so a typo in a test
        fails loudly instead of silently configuring nothing."""
        if not isinstance(cfg, dict):
            return "config must be a JSON object"
        known = {"user", "client_secret", "fail", "slow", "malformed", "drop",
                 "bad_token", "authorize_error", "token_error"}
        if set(cfg) - known:
            return "unknown config keys: %s" % sorted(set(cfg) - known)
        if not isinstance(cfg.get("user", {}), (dict, type(None))):
            return "user must be an object"
        if not isinstance(cfg.get("client_secret", ""), str):
            return "client_secret must be a string"
        checks = {"fail": lambda v: isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599,
                  "slow": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 3600,
                  "malformed": lambda v: isinstance(v, bool),
                  "drop": lambda v: isinstance(v, bool)}
        for sw, ok in checks.items():
            val = cfg.get(sw, {})
            if val is None:
                continue
            if not isinstance(val, dict):
                return "%s must be an object {endpoint: value}" % sw
            for ep, v in val.items():
                if ep not in ENDPOINTS:
                    return "%s: unknown endpoint %r (one of %s)" % (sw, ep, ", ".join(ENDPOINTS))
                if v is not None and not ok(v):
                    return "%s.%s: bad value %r" % (sw, ep, v)
        if cfg.get("bad_token") not in (None,) + BAD_TOKEN_KINDS:
            return "bad_token must be null or one of %s" % ", ".join(BAD_TOKEN_KINDS)
        ae = cfg.get("authorize_error")
        if ae is not None and not (isinstance(ae, dict) and isinstance(ae.get("error"), str)):
            return "authorize_error must be null or {\"error\":..., \"error_description\":...}"
        te = cfg.get("token_error")
        if te is not None and not (isinstance(te, dict) and isinstance(te.get("error"), str)
                                   and isinstance(te.get("code", 0), int)
                                   and isinstance(te.get("status", 400), int)):
            return "token_error must be null or {\"error\":..., \"code\":int, \"status\":int}"

        with self.lock:
            for k, v in (cfg.get("user") or {}).items():
                if v is None:
                    self.user.pop(k, None)
                    self.removed.add(k)
                else:
                    self.user[k] = v
                    self.removed.discard(k)
            if "client_secret" in cfg:
                self.client_secret = cfg["client_secret"] or CLIENT_SECRET
            for sw in checks:
                if sw in cfg and cfg[sw] is None:
                    self.switches[sw] = {}
                for ep, v in (cfg.get(sw) or {}).items():
                    if v is None or v is False:
                        self.switches[sw].pop(ep, None)
                    else:
                        self.switches[sw][ep] = v
            for k in ("bad_token", "authorize_error", "token_error"):
                if k in cfg:
                    setattr(self, k, cfg[k])
        return None

    def rotate_keys(self, keep_old):
        new = SigningKey()           # slow part outside the lock
        with self.lock:
            self.keys = [new] + (self.keys if keep_old else [])
        return new.kid

    def signing_key(self, bad=None):
        with self.lock:
            if bad == "unknown_kid":
                if self.rogue is None:
                    self.rogue = SigningKey()
                return self.rogue
            return self.keys[0]

    def count(self, endpoint):
        with self.lock:
            self.stats["requests"][endpoint] += 1

    def remember(self, endpoint, params):
        with self.lock:
            self.stats["last"][endpoint] = params

    # ---- tokens

    def mint(self, grant):
        """Token response for a grant (from a code or a refresh token)."""
        v1, scopes = grant["v1"], grant["scope"].split()
        with self.lock:
            user, removed = dict(self.user), set(self.removed)
            bad = self.bad_token
        now = int(time.time())
        tid = user.get("tid", grant["tid"])
        iss = ("https://sts.windows.net/%s/" % tid) if v1 else "%s/%s/v2.0" % (self.base, tid)
        given, _, family = (user.get("name") or "").partition(" ")
        resp = {"token_type": "Bearer",
                "scope": " ".join(scopes),
                "expires_in": TOKEN_TTL, "ext_expires_in": TOKEN_TTL}
        if v1:   # v1 responses carry these (as strings, as Entra sends them)
            resp.update(expires_on=str(now + TOKEN_TTL), not_before=str(now - BACKDATE),
                        resource=grant.get("resource") or GRAPH_APP_ID)

        # Access token: Graph-style, header nonce => opaque to everyone but "Graph"
        at_claims = {
            "aud": GRAPH_APP_ID, "iss": "https://sts.windows.net/%s/" % tid,
            "iat": now - BACKDATE, "nbf": now - BACKDATE, "exp": now + TOKEN_TTL,
            "acct": 0, "acr": "1", "aio": opaque(48), "amr": ["pwd"],
            "app_displayname": "mod_auth_entra tests", "appid": CLIENT_ID, "appidacr": "1",
            "family_name": user.get("family_name", family), "given_name": user.get("given_name", given),
            "idtyp": "user", "ipaddr": "127.0.0.1", "name": user.get("name"),
            "oid": user.get("oid"), "platf": "3", "rh": "0.A" + opaque(40),
            "scp": " ".join(s for s in scopes if s != "offline_access"),
            "sub": b64u(hashlib.sha256(("graph:%s" % user.get("oid")).encode()).digest()[:32]),
            "tid": tid,
            "unique_name": user.get("preferred_username"), "upn": user.get("preferred_username"),
            "uti": opaque(16), "ver": "1.0"}
        key = self.signing_key()
        at = jws({"typ": "JWT", "nonce": opaque(32), "alg": "RS256", "x5t": key.kid, "kid": key.kid},
                 at_claims, key)
        resp["access_token"] = at

        if "offline_access" in scopes or v1:    # v1 always hands out refresh tokens
            rt = "1.A" + opaque(180)
            resp["refresh_token"] = rt
        if "openid" in scopes:
            resp["id_token"] = self.id_token(grant, user, removed, bad, tid, iss, now, v1, scopes)

        with self.lock:
            self.access_tokens[at] = (now + TOKEN_TTL, user, grant)
            if "refresh_token" in resp:
                self.refresh_tokens[resp["refresh_token"]] = grant
        return resp

    def id_token(self, grant, user, removed, bad, tid, iss, now, v1, scopes):
        iat = now - BACKDATE
        c = {"aud": CLIENT_ID, "iss": iss, "iat": iat, "nbf": iat, "exp": iat + 3900,
             "aio": opaque(60)}
        if v1:
            given, _, family = (user.get("name") or "").partition(" ")
            c.update(amr=["pwd"], family_name=family, given_name=given, ipaddr="127.0.0.1",
                     unique_name=user.get("preferred_username"), upn=user.get("preferred_username"))
        if grant.get("nonce") is not None:
            c["nonce"] = grant["nonce"]
        c.update(rh="0.A" + opaque(40), sid=grant["sid"], tid=tid, uti=opaque(16),
                 ver="1.0" if v1 else "2.0")
        c.update(user)                      # the test's user (and overrides) win
        for k in removed:
            c.pop(k, None)
        if "email" not in scopes:           # Entra: email only with the email scope
            c.pop("email", None)

        if bad == "wrong_aud":
            c["aud"] = FOREIGN_AUD
        elif bad == "wrong_iss":
            forged = str(c["iss"]).replace(str(c.get("tid")), FOREIGN_TID)
            c["iss"] = forged if forged != c["iss"] else "%s/%s/v2.0" % (self.base, FOREIGN_TID)
        elif bad == "wrong_nonce":
            c["nonce"] = opaque(16)
        elif bad == "no_nonce":
            c.pop("nonce", None)
        elif bad == "expired":              # well past any sane clock skew
            c.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
        elif bad == "not_yet_valid":
            c.update(iat=now + 3600, nbf=now + 3600, exp=now + 7200)
        elif bad == "wrong_tid":
            c["tid"] = FOREIGN_TID
        key = self.signing_key(bad)
        return jws({"typ": "JWT", "alg": "RS256", "kid": key.kid}, c, key, bad)

    def bearer_user(self, authz):
        """Authorization header -> (user snapshot, grant) of a live access token."""
        m = re.match(r"\s*bearer\s+(\S+)\s*$", authz or "", re.I)
        with self.lock:
            entry = self.access_tokens.get(m.group(1)) if m else None
        if entry and entry[0] > time.time():
            return entry[1], entry[2]
        return None, None


# --------------------------------------------------------------------------
# HTTP plumbing shared by both servers


class BadRequest(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive, as libcurl expects
    timeout = 60                        # idle keep-alive connections don't pin threads
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("%s [%s] %s\n" % (self.server.label, self.log_date_time_string(), fmt % args))

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    raise BadRequest(400, "bad chunk size")
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass            # trailers
                    return out
                if len(out) + size > MAX_BODY:
                    raise BadRequest(413, "body too large")
                out += self.rfile.read(size)
                self.rfile.readline(1024)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise BadRequest(400, "bad Content-Length")
        if n < 0 or n > MAX_BODY:
            raise BadRequest(413 if n > 0 else 400, "bad Content-Length")
        return self.rfile.read(n)

    def reply(self, status, body=b"", ctype="application/json; charset=utf-8", headers=()):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.replied = True
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if body or status not in (204, 304):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store, no-cache")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json(self, status, obj, headers=()):
        self.reply(status, json.dumps(obj, separators=(",", ":")), headers=headers)

    def handle_one_request(self):
        # Any method name is dispatched (the echo backend takes them all).
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    def dispatch(self):
        self.replied = False
        try:
            url = urlsplit(self.path)
            self.url_path, self.query_string = url.path, url.query
            self.body = self.read_body()
            self.route()
        except BadRequest as e:
            self.close_connection = True
            self.json(e.status, {"error": "invalid_request", "error_description": str(e)})
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:                     # never die, never leave a client hanging
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            if not self.replied:
                try:
                    self.json(500, {"error": "server_error", "error_description": "mock: internal error"})
                except Exception:
                    pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False      # SIGTERM must not wait for slow/keep-alive threads
    request_queue_size = 128

    def __init__(self, addr, handler, label, mock):
        self.label, self.mock = label, mock
        super().__init__(addr, handler)

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------
# The echo backend


class EchoHandler(Handler):
    def route(self):
        headers = {}
        names = {}                            # lower -> first spelling seen
        for k, v in self.headers.items():
            name = names.setdefault(k.lower(), k)
            if name in headers:
                prev = headers[name]
                headers[name] = (prev if isinstance(prev, list) else [prev]) + [v]
            else:
                headers[name] = v
        self.json(200, {"method": self.command, "path": self.url_path,
                        "query": self.query_string, "headers": headers,
                        "body": self.body.decode("utf-8", "replace")})


# --------------------------------------------------------------------------
# Mock Entra

T = r"/(?P<tenant>[^/]+)"
ROUTES = [  # (regex, endpoint for stats/switches or None, method name, fixed kwargs)
    (T + r"/v2\.0/\.well-known/openid-configuration", "discovery", "discovery", {"v1": False}),
    (T + r"/\.well-known/openid-configuration", "discovery", "discovery", {"v1": True}),
    (T + r"/discovery/v2\.0/keys", "jwks", "jwks", {"v1": False}),
    (T + r"/discovery/keys", "jwks", "jwks", {"v1": True}),
    (T + r"/oauth2/v2\.0/authorize", "authorize", "authorize", {"v1": False}),
    (T + r"/oauth2/authorize", "authorize", "authorize", {"v1": True}),
    (T + r"/oauth2/v2\.0/token", "token", "token", {"v1": False}),
    (T + r"/oauth2/token", "token", "token", {"v1": True}),
    (T + r"/oauth2/v2\.0/logout", "logout", "logout", {"v1": False}),
    (T + r"/oauth2/logout", "logout", "logout", {"v1": True}),
    (r"/oidc/userinfo", "userinfo", "userinfo", {"v1": False}),
    (T + r"/openid/userinfo", "userinfo", "userinfo", {"v1": True}),
    (r"/v1\.0/me", "graph", "graph_me", {}),
    (r"/_mock/(?P<action>[a-z_]+)", None, "control", {}),
]
ROUTES = [(re.compile(r + "/?$"), ep, fn, kw) for r, ep, fn, kw in ROUTES]

ERROR_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in to your account</title></head>
<body><h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p>
<p id="error">%s</p>
<table><tr><td>Request Id:</td><td>%s</td></tr><tr><td>Correlation Id:</td><td>%s</td></tr>
<tr><td>Timestamp:</td><td>%s</td></tr></table></body></html>
"""

FORM_POST_PAGE = """<html><head><title>Working...</title></head><body>
<form method="POST" name="hiddenform" action="%s">
%s<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript>
</form><script language="javascript">window.setTimeout(function(){document.forms[0].submit()}, 0);</script>
</body></html>
"""


class EntraHandler(Handler):
    @property
    def mock(self):
        return self.server.mock

    # ---- dispatch

    def route(self):
        # Entra echoes a client-request-id as the correlation id; trace ids are per request.
        self.trace_id = guid()
        crid = self.headers.get("client-request-id", "")
        self.correlation_id = crid.lower() if is_guid(crid) else guid()
        self.query = first_values(self.query_string)
        ctype = self.headers.get("Content-Type", "")
        self.form = (first_values(self.body.decode("utf-8", "replace"))
                     if ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"
                     else {})
        for rx, endpoint, fn, kw in ROUTES:
            m = rx.match(self.url_path)
            if m:
                if endpoint and self.switched(endpoint):
                    return
                return getattr(self, fn)(**m.groupdict(), **kw)
        self.json(404, {"error": "not_found", "error_description": "mock: no such endpoint %s" % self.url_path})

    def switched(self, endpoint):
        """Count the request, then apply slow/drop/fail/malformed. True = answered."""
        mock = self.mock
        mock.count(endpoint)
        with mock.lock:
            slow, drop, fail, malformed = (mock.switches[s].get(endpoint)
                                           for s in ("slow", "drop", "fail", "malformed"))
        if slow:
            time.sleep(slow)
        if drop:
            self.close_connection = True      # handler returns without writing a byte
            self.replied = True
            return True
        if fail:
            if endpoint in ("authorize", "logout"):
                self.error_page(fail, 90033, "A transient error has occurred. Please try again.")
            elif fail >= 500:
                self.entra_error(fail, "temporarily_unavailable", 90033,
                                 "A transient error has occurred. Please try again.")
            else:
                self.entra_error(fail, "invalid_request", 90100,
                                 "Invalid request (mock fail switch, HTTP %d)." % fail)
            return True
        if malformed:
            self.reply(200, '{"mock":"malformed","token_endpoint":"%s/oauth2/v2.0/tok' % mock.base)
            return True
        return False

    # ---- Entra-shaped answers

    def entra_error(self, status, error, code, message):
        ts = entra_time()
        desc = "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s" % (
            code, message, self.trace_id, self.correlation_id, ts)
        self.json(status, {"error": error, "error_description": desc, "error_codes": [code],
                           "timestamp": ts, "trace_id": self.trace_id,
                           "correlation_id": self.correlation_id,
                           "error_uri": "%s/error?code=%d" % (self.mock.base, code)},
                  headers=[("x-ms-request-id", self.trace_id)])

    def error_page(self, status, code, message):
        """The HTML page Entra shows when it cannot send the user back."""
        self.reply(status, ERROR_PAGE % (html.escape("AADSTS%d: %s" % (code, message)),
                                         self.trace_id, self.correlation_id, entra_time()),
                   ctype="text/html; charset=utf-8", headers=[("x-ms-request-id", self.trace_id)])

    def unknown_tenant(self, tenant, page=False):
        msg = ("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are "
               "signing into the correct cloud." % tenant)
        if page:
            self.error_page(400, 90002, msg)
        else:
            self.entra_error(400, "invalid_tenant", 90002, msg)

    def redirect(self, location):
        self.reply(302, "", ctype="text/html; charset=utf-8",
                   headers=[("Location", location), ("x-ms-request-id", self.trace_id)])

    def deliver(self, redirect_uri, mode, params):
        """Send authorize results back the way response_mode asks."""
        params = [(k, v) for k, v in params if v is not None]
        if mode == "form_post":
            inputs = "".join('<input type="hidden" name="%s" value="%s" />\n'
                             % (html.escape(k), html.escape(v)) for k, v in params)
            self.reply(200, FORM_POST_PAGE % (html.escape(redirect_uri), inputs),
                       ctype="text/html; charset=utf-8")
        elif mode == "fragment":
            self.redirect(redirect_uri.split("#")[0] + "#" + urlencode(params))
        else:
            sep = "&" if "?" in redirect_uri else "?"
            self.redirect(redirect_uri.split("#")[0] + sep + urlencode(params))

    # ---- discovery and keys

    def discovery(self, tenant, v1):
        tmpl = resolve_tenant(tenant)
        if tmpl is None:
            return self.unknown_tenant(tenant)
        b, t = self.mock.base, tenant
        graph_host = urlsplit(b).netloc
        common = {
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "http_logout_supported": True, "frontchannel_logout_supported": True,
            "tenant_region_scope": None if tmpl == "{tenantid}" else "EU",
            "cloud_instance_name": "microsoftonline.com", "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": graph_host, "rbac_url": "https://pas.windows.net",
        }
        if v1:
            doc = {"token_endpoint": "%s/%s/oauth2/token" % (b, t),
                   "jwks_uri": "%s/common/discovery/keys" % b,
                   "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
                   "scopes_supported": ["openid"],
                   "issuer": "https://sts.windows.net/%s/" % tmpl,
                   "microsoft_multi_refresh_token": True,
                   "authorization_endpoint": "%s/%s/oauth2/authorize" % (b, t),
                   "device_authorization_endpoint": "%s/%s/oauth2/devicecode" % (b, t),
                   "end_session_endpoint": "%s/%s/oauth2/logout" % (b, t),
                   "check_session_iframe": "%s/%s/oauth2/checksession" % (b, t),
                   "userinfo_endpoint": "%s/%s/openid/userinfo" % (b, home_tid(tmpl)),
                   "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                        "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat",
                                        "auth_time", "acr", "amr", "nonce", "email", "given_name",
                                        "family_name", "nickname"]}
        else:
            doc = {"token_endpoint": "%s/%s/oauth2/v2.0/token" % (b, t),
                   "jwks_uri": "%s/%s/discovery/v2.0/keys" % (b, t),
                   "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                   "scopes_supported": ["openid", "profile", "email", "offline_access"],
                   "issuer": "%s/%s/v2.0" % (b, tmpl),
                   "request_uri_parameter_supported": False,
                   "userinfo_endpoint": "%s/oidc/userinfo" % b,
                   "authorization_endpoint": "%s/%s/oauth2/v2.0/authorize" % (b, t),
                   "device_authorization_endpoint": "%s/%s/oauth2/v2.0/devicecode" % (b, t),
                   "end_session_endpoint": "%s/%s/oauth2/v2.0/logout" % (b, t),
                   "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                        "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat",
                                        "auth_time", "acr", "nonce", "preferred_username", "name",
                                        "tid", "ver", "at_hash", "c_hash", "email"]}
        doc.update(common)
        doc["kerberos_endpoint"] = "%s/%s/kerberos" % (b, t)
        self.json(200, doc)

    def jwks(self, tenant, v1):
        tmpl = resolve_tenant(tenant)
        if tmpl is None:
            return self.unknown_tenant(tenant)
        issuer = "%s/%s/v2.0" % (self.mock.base, tmpl)
        with self.mock.lock:
            keys = list(self.mock.keys)
        self.json(200, {"keys": [k.jwk(issuer) for k in keys]})

    # ---- authorize

    def authorize(self, tenant, v1):
        p = dict(self.query, **(self.form if self.command == "POST" else {}))
        mock = self.mock
        mock.remember("authorize", p)
        tmpl = resolve_tenant(tenant)
        if tmpl is None:
            return self.unknown_tenant(tenant, page=True)
        # Problems Entra cannot report to the app: an error page for the user.
        client_id, redirect_uri = p.get("client_id"), p.get("redirect_uri")
        if not client_id:
            return self.error_page(400, 900144, "The request body must contain the following "
                                                "parameter: 'client_id'.")
        if client_id.lower() != CLIENT_ID:
            return self.error_page(400, 700016, "Application with identifier '%s' was not found in "
                                   "the directory 'Contoso'. This can happen if the application has "
                                   "not been installed by the administrator of the tenant or "
                                   "consented to by any user in the tenant." % client_id)
        if not redirect_uri:
            return self.error_page(400, 900144, "The request body must contain the following "
                                                "parameter: 'redirect_uri'.")
        ru = urlsplit(redirect_uri)
        if ru.scheme not in ("http", "https") or not ru.netloc:
            return self.error_page(400, 50011, "The redirect URI '%s' specified in the request does "
                                   "not match the redirect URIs configured for the application "
                                   "'%s'." % (redirect_uri, CLIENT_ID))

        # From here on, problems go back to the app as error/error_description.
        mode = p.get("response_mode") or "query"
        if mode not in ("query", "fragment", "form_post"):
            mode = "query"
        state = p.get("state")

        def fail(error, description):
            if not re.match(r"AADSTS\d+:", description):
                description = "AADSTS90000: " + description
            description += "\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s" % (
                self.trace_id, self.correlation_id, entra_time())
            self.deliver(redirect_uri, mode, [("error", error), ("error_description", description),
                                              ("state", state)])

        with mock.lock:
            forced = mock.authorize_error
        rtype = p.get("response_type", "")
        method = p.get("code_challenge_method") or "plain"
        challenge = p.get("code_challenge")
        if forced:
            return fail(forced["error"], forced.get("error_description") or "AADSTS90000: mock error")
        if not rtype:
            return fail("invalid_request", "AADSTS900144: The request body must contain the "
                                           "following parameter: 'response_type'.")
        if "code" not in rtype.split():
            return fail("unsupported_response_type", "AADSTS700054: response_type '%s' is not "
                                                     "enabled for the application." % rtype)
        if not v1 and not p.get("scope"):
            return fail("invalid_request", "AADSTS900144: The request body must contain the "
                                           "following parameter: 'scope'.")
        if challenge is not None:
            if method not in ("S256", "plain"):
                return fail("invalid_request", "AADSTS50149: Invalid Code_Challenge_method parameter.")
            if not 43 <= len(challenge) <= 128:
                return fail("invalid_request", "AADSTS501491: Invalid size of Code_Challenge parameter.")

        # Sign the configured user in, silently.
        sid = guid()
        code = "1.A" + opaque(240)
        grant = {"tid": home_tid(tmpl), "v1": v1, "client_id": CLIENT_ID, "sid": sid,
                 "scope": p.get("scope") or "openid", "resource": p.get("resource"),
                 "nonce": p.get("nonce"), "redirect_uri": redirect_uri,
                 "challenge": challenge, "method": method, "expires": time.time() + CODE_TTL,
                 "used": False}
        with mock.lock:
            mock.codes[code] = grant
        self.deliver(redirect_uri, mode, [("code", code), ("state", state), ("session_state", sid)])

    # ---- token

    def client_credentials(self):
        """-> (auth_method, client_id, client_secret, basic parse error)."""
        authz = self.headers.get("Authorization", "")
        if authz[:6].lower() == "basic ":
            try:
                raw = base64.b64decode(authz[6:].strip(), validate=True).decode("utf-8")
                cid, secret = raw.split(":", 1)
                return "client_secret_basic", unquote(cid), unquote(secret), False
            except Exception:
                return "client_secret_basic", None, None, True
        if "client_secret" in self.form:
            return "client_secret_post", self.form.get("client_id"), self.form["client_secret"], False
        if "client_assertion" in self.form:
            return "private_key_jwt", self.form.get("client_id"), None, False
        return "none", self.form.get("client_id"), None, False

    def token(self, tenant, v1):
        mock, f = self.mock, self.form
        method, cid, secret, basic_bad = self.client_credentials()
        last = dict(f, auth_method=method)
        if method == "client_secret_basic":
            last.update(basic_client_id=cid, basic_client_secret=secret)
        mock.remember("token", last)
        if self.command != "POST":
            return self.entra_error(400, "invalid_request", 900561, "The endpoint only accepts "
                                    "POST, OPTIONS requests. Received a %s request." % self.command)
        if resolve_tenant(tenant) is None:
            return self.unknown_tenant(tenant)
        with mock.lock:
            forced, expected_secret = mock.token_error, mock.client_secret
        if forced:
            code = forced.get("code", 70000)
            return self.entra_error(forced.get("status", 400), forced["error"], code,
                                    forced.get("error_description") or KNOWN_ERRORS.get(
                                        code, "Mock token error %d." % code))

        def missing(name):
            return self.entra_error(400, "invalid_request", 900144, "The request body must "
                                    "contain the following parameter: '%s'." % name)

        grant_type = f.get("grant_type")
        if not grant_type:
            return missing("grant_type")
        if grant_type not in ("authorization_code", "refresh_token"):
            return self.entra_error(400, "unsupported_grant_type", 70003, "The app requested an "
                                    "unsupported grant type '%s'." % grant_type)
        if basic_bad:
            return self.entra_error(401, "invalid_client", 7000215, KNOWN_ERRORS[7000215] % "?")
        if not cid:
            return missing("client_id")
        if cid.lower() != CLIENT_ID:
            return self.entra_error(400, "unauthorized_client", 700016, "Application with "
                                    "identifier '%s' was not found in the directory 'Contoso'." % cid)
        if secret is None:
            return self.entra_error(401, "invalid_client", 7000218, "The request body must contain "
                                    "the following parameter: 'client_assertion' or 'client_secret'.")
        if not hmac.compare_digest(secret.encode(), expected_secret.encode()):
            return self.entra_error(401, "invalid_client", 7000215, KNOWN_ERRORS[7000215] % CLIENT_ID)

        if grant_type == "authorization_code":
            code = f.get("code")
            if not code:
                return missing("code")
            if not f.get("redirect_uri"):
                return missing("redirect_uri")
            with mock.lock:
                g = mock.codes.get(code)
                if g is None or g["expires"] < time.time():
                    return self.entra_error(400, "invalid_grant", 70008, KNOWN_ERRORS[70008])
                if g["used"]:
                    return self.entra_error(400, "invalid_grant", 54005, KNOWN_ERRORS[54005])
                if f["redirect_uri"] != g["redirect_uri"]:
                    return self.entra_error(400, "invalid_grant", 500112, "The reply address '%s' "
                                            "does not match the reply address '%s' provided when "
                                            "requesting Authorization code."
                                            % (f["redirect_uri"], g["redirect_uri"]))
                if g["challenge"] is not None:
                    verifier = f.get("code_verifier", "")
                    expect = (b64u(hashlib.sha256(verifier.encode()).digest())
                              if g["method"] == "S256" else verifier)
                    if not verifier or not hmac.compare_digest(expect, g["challenge"]):
                        return self.entra_error(400, "invalid_grant", 50148, KNOWN_ERRORS[50148])
                g["used"] = True
            grant = dict(g, v1=v1)
        else:
            rt = f.get("refresh_token")
            if not rt:
                return missing("refresh_token")
            with mock.lock:
                g = mock.refresh_tokens.pop(rt, None)   # rotation: the old one is spent
            if g is None:
                return self.entra_error(400, "invalid_grant", 70008, KNOWN_ERRORS[70008])
            grant = dict(g, v1=v1)
            if f.get("scope"):
                grant["scope"] = f["scope"]
        self.json(200, mock.mint(grant), headers=[("x-ms-request-id", self.trace_id)])

    # ---- userinfo, Graph, logout

    def graph_unauthorized(self):
        self.json(401, {"error": {"code": "InvalidAuthenticationToken",
                                  "message": "Access token validation failure."
                                  if self.headers.get("Authorization") else "Access token is empty.",
                                  "innerError": {"date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                                 "request-id": self.trace_id,
                                                 "client-request-id": self.correlation_id}}},
                  headers=[("WWW-Authenticate", 'Bearer realm="", authorization_uri="%s/common/'
                            'oauth2/authorize", client_id="%s"' % (self.mock.base, GRAPH_APP_ID))])

    def userinfo(self, v1, tenant=None):
        user, grant = self.mock.bearer_user(self.headers.get("Authorization"))
        if user is None:
            return self.graph_unauthorized()
        given, _, family = (user.get("name") or "").partition(" ")
        info = {"sub": user.get("sub"), "name": user.get("name"),
                "family_name": user.get("family_name", family),
                "given_name": user.get("given_name", given), "email": user.get("email"),
                "picture": "%s/v1.0/me/photo/$value" % self.mock.base}
        if v1:
            info.update(oid=user.get("oid"), upn=user.get("preferred_username"),
                        unique_name=user.get("preferred_username"))
            del info["picture"]
        self.json(200, {k: v for k, v in info.items() if v is not None})

    def graph_me(self):
        user, grant = self.mock.bearer_user(self.headers.get("Authorization"))
        if user is None:
            return self.graph_unauthorized()
        given, _, family = (user.get("name") or "").partition(" ")
        self.json(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
                        "businessPhones": ["+1 425 555 0109"], "displayName": user.get("name"),
                        "givenName": user.get("given_name", given), "jobTitle": "Retail Manager",
                        "mail": user.get("email"), "mobilePhone": None, "officeLocation": "18/2111",
                        "preferredLanguage": "en-US", "surname": user.get("family_name", family),
                        "userPrincipalName": user.get("preferred_username"), "id": user.get("oid")})

    def logout(self, tenant, v1):
        p = dict(self.query, **self.form)
        self.mock.remember("logout", p)
        if resolve_tenant(tenant) is None:
            return self.unknown_tenant(tenant, page=True)
        target = p.get("post_logout_redirect_uri")
        if target:
            if p.get("state") is not None:
                target += ("&" if "?" in target else "?") + "state=" + quote_plus(p["state"])
            return self.redirect(target)
        self.reply(200, "<!DOCTYPE html><html><head><title>Sign out</title></head><body>"
                        "<p>You signed out of your account</p><p>It's a good idea to close all "
                        "browser windows.</p></body></html>\n", ctype="text/html; charset=utf-8")

    # ---- control API

    def control(self, action):
        mock = self.mock
        try:
            body = json.loads(self.body or b"{}")
        except ValueError as e:
            return self.json(400, {"error": "bad JSON: %s" % e})
        posting = self.command == "POST"
        if action == "reset" and posting:
            mock.reset()
            return self.json(200, {"ok": True})
        if action == "config" and posting:
            err = mock.configure(body)
            if err:
                return self.json(400, {"error": err})
            return self.json(200, mock.config_view())
        if action == "config":
            return self.json(200, mock.config_view())
        if action == "rotate_keys" and posting:
            keep = bool(body.get("keep_old", False)) if isinstance(body, dict) else False
            kid = mock.rotate_keys(keep)
            with mock.lock:
                kids = [k.kid for k in mock.keys]
            return self.json(200, {"kid": kid, "kids": kids})
        if action == "stats":
            with mock.lock:
                return self.json(200, json.loads(json.dumps(mock.stats)))
        if action == "info":
            with mock.lock:
                kids = [k.kid for k in mock.keys]
                secret = mock.client_secret
            return self.json(200, {
                "tenant_id": TENANT_ID, "tenant_domain": TENANT_DOMAIN,
                "consumers_tenant_id": CONSUMERS_TID, "client_id": CLIENT_ID,
                "client_secret": secret, "default_client_secret": CLIENT_SECRET,
                "graph_app_id": GRAPH_APP_ID, "user": DEFAULT_USER,
                "base": mock.base, "backend_base": mock.backend_base,
                "issuer": "%s/%s/v2.0" % (mock.base, TENANT_ID),
                "kid": kids[0], "kids": kids,
                "endpoints": list(ENDPOINTS), "bad_token_kinds": list(BAD_TOKEN_KINDS)})
        self.json(404 if action not in ("reset", "config", "rotate_keys", "stats", "info") else 405,
                  {"error": "unknown control action or method: %s /_mock/%s" % (self.command, action)})


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description="Mock Microsoft Entra ID + echo backend")
    ap.add_argument("--port", type=int, required=True, help="mock Entra port on 127.0.0.1")
    ap.add_argument("--backend-port", type=int, required=True, help="echo backend port on 127.0.0.1")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()
    Handler.verbose = args.verbose

    try:
        entra = Server(("127.0.0.1", args.port), EntraHandler, "entra", None)
        backend = Server(("127.0.0.1", args.backend_port), EchoHandler, "backend", None)
    except OSError as e:
        sys.stderr.write("mock_entra: cannot listen: %s\n" % e)
        return 1
    entra.mock = Mock(entra.server_address[1], backend.server_address[1])

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
               for s in (entra, backend)]
    for t in threads:
        t.start()
    print("ready", flush=True)
    while not stop.wait(0.1):
        pass
    for s in (entra, backend):
        s.shutdown()
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
