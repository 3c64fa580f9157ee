#!/usr/bin/python3
"""Mock Microsoft Entra ID (plus an echo backend) for the mod_auth_entra tests.

    /usr/bin/python3 t/mock/mock_entra.py --port P --backend-port B [--verbose]

127.0.0.1:P speaks Entra's v1 and v2 endpoints (discovery, JWKS, authorize,
token, userinfo, end session), a little of Microsoft Graph (/v1.0/me and the
group-membership calls) and a JSON control API under /_mock/ that the tests
use to inject failures and bad tokens.  127.0.0.1:B
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
import socket
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, quote_plus, unquote_plus, urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

# --------------------------------------------------------------------------
# Test identities (exported by GET /_mock/info)

TENANT_ID = "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
TENANT_DOMAIN = "contoso.test"
CONSUMERS_TID = "9188040d-6c67-4c5b-b112-36a304b66dad"
CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
# Characters that need URL encoding (form and RFC 6749 2.3.1 Basic), and a "%41"
# that a double decode would turn into "A".
CLIENT_SECRET = "mock+Secret&x=1%41~value.123"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
FOREIGN_TID = "0b9d7f3e-5a4c-4e2b-9d1f-6c8a7e5b3d2f"   # wrong_tid / wrong_iss
FOREIGN_AUD = "3c1e5a7b-2d4f-4a6e-8b0c-9d1e2f3a4b5c"   # wrong_aud
# The app's own API ("Expose an API"): App ID URI, its delegated scopes (what
# .default grants), the app roles a client-credentials token gets by default,
# and the object id of the app's service principal (an app-only token's oid).
APP_ID_URI = "api://" + CLIENT_ID
API_SCOPES = ("access_as_user", "Tasks.Read")
APP_ROLES = ("Tasks.Read.All",)
SP_OID = "5e0b7f4a-2c1d-4e3f-9a8b-7c6d5e4f3a2b"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
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

# Switch/stats names.  "graph" covers every Graph call; "graph_groups" only
# getMemberObjects/transitiveMemberOf; "graph_next" only their follow-up pages
# (requests carrying $skiptoken).  The most specific name set wins.
ENDPOINTS = ("discovery", "jwks", "authorize", "token", "userinfo", "graph", "logout",
             "graph_groups", "graph_next", "imds")
BAD_TOKEN_KINDS = ("wrong_aud", "wrong_iss", "wrong_nonce", "no_nonce", "expired",
                   "not_yet_valid", "bad_signature", "alg_none", "hs256_pubkey",
                   "unknown_kid", "wrong_tid", "kid_path", "v1_issuer", "deep_json")
# kid_path: a good signature under a kid that reads like a file path or URL
# (peers have looked keys up by kid on disk or in URLs).
KID_PATH = "../../../../etc/passwd/..%2f..%2fkeys\\..\\x?kid=1#frag"
# deep_json: a claim nested this deep; over jansson's parser limit (2048),
# and still small enough for an Authorization header.
DEEP_JSON_DEPTH = 2200
# jwks_shape: "huge" pads the JWKS past any sane size with junk RSA keys;
# "no_usable_key" serves only keys nobody may verify an RS256 token with;
# "one" only the signing key (common/organizations list two otherwise);
# "several" the good keys plus SEVERAL_JUNK_KEYS RSA keys nobody signs with.
JWKS_SHAPES = ("huge", "no_usable_key", "one", "several")
SEVERAL_JUNK_KEYS = 2
HUGE_JWKS_JUNK_KEYS = 6000
# Sovereign clouds, as their discovery documents show them.  The mock keeps
# every URL on 127.0.0.1 (msgraph_host included, so the module can reach it);
# only these names change.  v1 tokens come from sts.windows.net, except in
# China (sts.chinacloudapi.cn).
CLOUDS = {
    "global": {"cloud_instance_name": "microsoftonline.com",
               "cloud_graph_host_name": "graph.windows.net",
               "tenant_region_scope": "EU", "rbac_url": "https://pas.windows.net",
               "sts": "https://sts.windows.net",
               "authority_host": "login.microsoftonline.com", "msgraph_host": "graph.microsoft.com"},
    "usgov": {"cloud_instance_name": "microsoftonline.us",
              "cloud_graph_host_name": "graph.windows.net",
              "tenant_region_scope": "USGov", "rbac_url": "https://pasff.usgovcloudapi.net",
              "sts": "https://sts.windows.net",
              "authority_host": "login.microsoftonline.us", "msgraph_host": "graph.microsoft.us"},
    "china": {"cloud_instance_name": "partner.microsoftonline.cn",
              "cloud_graph_host_name": "graph.chinacloudapi.cn",
              "tenant_region_scope": "AS", "rbac_url": "https://pas.chinacloudapi.cn",
              "sts": "https://sts.chinacloudapi.cn",
              "authority_host": "login.partner.microsoftonline.cn",
              "msgraph_host": "microsoftgraph.chinacloudapi.cn"},
}
GRAPH_AUDS = (GRAPH_APP_ID, "https://graph.microsoft.com", "https://graph.microsoft.com/")
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FIC_AUDIENCE = "api://AzureADTokenExchange"
# Managed identity (EntraManagedIdentity): a user-assigned identity of the
# tenant, its token from the IMDS-shaped /metadata/identity/oauth2/token
# (header Metadata: true) or App Service's /msi/token (X-IDENTITY-HEADER).
# Azure AD B2C: discovery, authorize, token and keys per policy
# (/<tenant>/<policy>/...); the issuer has a trailing slash; the policy is
# in tfp; e-mail addresses in emails (an array).
B2C_ISSUER = "https://contoso.b2clogin.com/%s/v2.0/"
B2C_POLICY_RE = re.compile(r"^/([^/]+)/((?i:b2c_1a?_)[^/]+)(/.*)$")
B2C_SECOND_EMAIL = "adele@personal.example"
MI_CLIENT_ID = "8f2e6c4a-1b3d-4e5f-a6b7-c8d9e0f1a2b3"
MI_OBJECT_ID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
MI_IDENTITY_HEADER = "mock-identity-header-3f9a"
MI_TOKEN_TTL = 86400      # IMDS tokens live about a day
MI_AUDIENCES = ("api://AzureADTokenExchange", "api://AzureADTokenExchangeUSGov",
                "api://AzureADTokenExchangeChina")
CERT_DOC = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"
FIC_DOC = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
ASSERTION_MAX_LIFETIME = 600   # exp at most 10 minutes ahead (+ skew)
SKEW = 300                     # clock skew allowed on assertion times
OVERAGE_LIMIT = 200            # more groups than this in a JWT => overage claim
GROUP_PATTERN = "2f6a4c1e-0000-4000-8001-%012d"    # groups_count group i (1-based)
# User-switch keys that feed Graph only; they never become token claims.
GRAPH_ONLY = ("mail", "job_title", "business_phones", "mobile_phone", "office_location",
              "preferred_language", "groups_count")
# Conditional Access: the authentication contexts (c1..c99) whose policy
# controls the user can satisfy (MFA enrolled, compliant device...), the
# user-switch key "auth_contexts" (never a token claim).  A context asked
# for with the claims parameter goes into the ID token's acrs only when the
# user satisfies it; otherwise Entra leaves it out and the app must notice.
AUTH_CONTEXTS_DEFAULT = ("c1", "c2")
MOCK_ONLY = ("auth_contexts",)
GRAPH_ME_DEFAULTS = {"job_title": "Retail Manager", "business_phones": ["+1 425 555 0109"],
                     "mobile_phone": None, "office_location": "18/2111",
                     "preferred_language": "en-US"}

# What login.microsoftonline.com sends with discovery documents and JWKS.
METADATA_CACHE_CONTROL = "max-age=86400, private"
# Entra's browser session (the ESTSAUTH cookie): prompt=none needs one.
SESSION_COOKIE = "ESTSAUTH"
REFRESH_TOKEN_TTL = 90 * 86400     # Entra: 90 days (of inactivity)
# Delegated Graph permissions the app registration has consent for (a new
# registration has User.Read): Entra puts them in every Graph token's scp,
# asked for or not.  Graph's own checks, per call, for the signed-in user:
GRAPH_CONSENTED = ("User.Read",)
GRAPH_ME_PERMISSIONS = ("User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All",
                        "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All",
                        "Directory.AccessAsUser.All")
GRAPH_MEMBER_OBJECTS_PERMISSIONS = ("User.Read", "User.Read.All", "User.ReadWrite.All",
                                    "Directory.Read.All", "Directory.ReadWrite.All")
GRAPH_TRANSITIVE_PERMISSIONS = ("User.Read", "Directory.Read.All", "Directory.ReadWrite.All",
                                "Group.Read.All", "GroupMember.Read.All", "User.Read.All")
# The claims challenge of interaction_required (Conditional Access policy ids)
DEFAULT_CLAIMS_CHALLENGE = ('{"access_token":{"capolids":{"essential":true,"values":'
                            '["5b4b9e8f-1c2d-4e3f-8a9b-0c1d2e3f4a5b"]}}}')
# The claims challenge of a resource doing Continuous Access Evaluation (the
# echo backend's /cae/...): a token issued after this time
DEFAULT_CAE_CHALLENGE = '{"access_token":{"nbf":{"essential":true,"value":"1764400000"}}}'

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
    700082: "The refresh token has expired due to inactivity. The token was issued on %s and was "
            "inactive for %s.",
    50173: "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
           "The user might have changed or reset their password. The grant was issued on '%s' and "
           "the TokensValidFrom date (before which tokens are not valid) for this user is '%s'.",
    50079: "Due to a configuration change made by your administrator, or because you moved to a "
           "new location, you must enroll in multi-factor authentication to access '%s'.",
    50011: "The redirect URI '%s' specified in the request does not match the redirect URIs "
           "configured for the application '%s'. Make sure the redirect URI sent in the request "
           "matches one added to your application in the Azure portal. Navigate to "
           "https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
    50058: "A silent sign-in request was sent but no user is signed in. The cookies used to "
           "represent the user's session were not sent in the request to Azure AD.",
    28000: "Provided value for the input parameter scope is not valid because it contains more "
           "than one resource. Scope %s is not valid.",
    1002012: "The provided value for scope %s is not valid. Client credential flows must have a "
             "scope value with /.default suffixed to the resource identifier (application ID "
             "URI).",
    500011: "The resource principal named %s was not found in the tenant named Contoso.",
    901002: "The 'resource' request parameter is not supported.",
}

# --------------------------------------------------------------------------
# Small helpers


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_json(obj):
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


def b64u_uint(n):
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def unb64u(s):
    """Strict base64url decoding (raises ValueError on garbage)."""
    if not isinstance(s, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", s):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_decode(token):
    """Compact JWS -> (header, claims, signing input, signature); no verification."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    header, claims = json.loads(unb64u(parts[0])), json.loads(unb64u(parts[1]))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("header and payload must be JSON objects")
    return header, claims, (parts[0] + "." + parts[1]).encode(), unb64u(parts[2])


def assertion_time(t):
    """Entra's format in AADSTS700024: 2024-10-02T22:05:03.0000000Z."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(int(t)))
    except (TypeError, ValueError, OverflowError, OSError):
        return "0001-01-01T00:00:00.0000000Z"


def num(v):
    """A JSON number claim, or None (bools and strings are not numbers)."""
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


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
    if s in (TENANT_ID, TENANT_DOMAIN) or s.endswith("." + TENANT_DOMAIN):
        return TENANT_ID        # subdomains: the tenant's other verified domains
    if s in ("common", "organizations"):
        return "{tenantid}"
    if s in ("consumers", CONSUMERS_TID):
        return CONSUMERS_TID
    return None


def home_tid(template):
    """The tid a sign-in through that tenant path ends up with."""
    return CONSUMERS_TID if template == CONSUMERS_TID else TENANT_ID


def self_signed(key, cn, days=5 * 365, since=1):
    """Self-signed cert valid from `since` days ago to `days` days from now."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=since))
            .not_valid_after(now + datetime.timedelta(days=days))
            .sign(key, hashes.SHA256()))


class SigningKey:
    """RSA-2048 key with a self-signed cert; kid = x5t = b64url(SHA-1(DER)).

    Entra's keys have CN accounts.accesscontrol.windows.net; personal
    accounts' tokens are signed by Microsoft account keys ("Live ID STS
    Signing Public Key"), listed with the consumers issuer."""

    def __init__(self, msa=False):
        self.msa = msa
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = self_signed(self.key, "Live ID STS Signing Public Key" if msa
                           else "accounts.accesscontrol.windows.net")
        self.der = cert.public_bytes(serialization.Encoding.DER)
        self.kid = b64u(hashlib.sha1(self.der).digest())
        self.public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, data):
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def jwk(self, issuer, cloud_instance_name="microsoftonline.com"):
        """issuer False: no issuer property at all."""
        pub = self.key.public_key().public_numbers()
        k = {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
             "n": b64u_uint(pub.n), "e": b64u_uint(pub.e),
             "x5c": [base64.b64encode(self.der).decode()],
             "cloud_instance_name": cloud_instance_name, "issuer": issuer}
        if issuer is False:
            del k["issuer"]
        return k


class ClientCert:
    """A certificate registered on the app (its keyCredentials)."""

    def __init__(self, pem):
        self.pem = pem
        self.cert = x509.load_pem_x509_certificate(pem.encode())
        der = self.cert.public_bytes(serialization.Encoding.DER)
        self.x5t = b64u(hashlib.sha1(der).digest())
        self.x5t_s256 = b64u(hashlib.sha256(der).digest())
        self.public_key = self.cert.public_key()
        self.not_after = self.cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp()
        self.not_before = self.cert.not_valid_before.replace(tzinfo=datetime.timezone.utc).timestamp()

    def describe(self):
        return {"x5t": self.x5t, "x5t#S256": self.x5t_s256,
                "subject": self.cert.subject.rfc4514_string(),
                "not_before": int(self.not_before), "not_after": int(self.not_after)}


def parse_certs(value):
    """PEM string (one or more certs) or list of PEM strings -> [ClientCert]."""
    pems = value if isinstance(value, list) else [value]
    out = []
    for pem in pems:
        if not isinstance(pem, str):
            raise ValueError("client_certificate must be PEM text or a list of PEM texts")
        blocks = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S)
        if not blocks:
            raise ValueError("client_certificate: no PEM certificate found")
        out += [ClientCert(b + "\n") for b in blocks]
    return out


def api_scope_names(scopes):
    """Scopes of the app's own API (api://<client id>/x or <client id>/x, in any
    case) -> their names ([] when none; .default = every exposed scope), and
    the scopes for some other resource (Graph's, by name or URI)."""
    names, other = [], []
    for s in scopes:
        low = s.lower()
        for prefix in (APP_ID_URI.lower() + "/", CLIENT_ID + "/"):
            if low.startswith(prefix):
                n = s[len(prefix):]
                names += list(API_SCOPES) if n == ".default" else [n]
                break
        else:
            if s not in OIDC_SCOPES:
                other.append(s)
    return [n for i, n in enumerate(names) if n and n not in names[:i]], other


def unusable_keys(good):
    """Every way a JWKS entry can be unfit for RS256 signatures, several of
    them the real keys with one thing wrong."""
    k = good[0]
    n_padded = base64.b64encode(base64.urlsafe_b64decode(k["n"] + "==")).decode()
    return [dict(k, use="enc"),                                  # encryption key
            dict(k, kty="oct", k=k["n"]),                         # symmetric
            {"kty": "EC", "use": "sig", "kid": k["kid"], "crv": "P-256",
             "x": b64u(secrets.token_bytes(32)), "y": b64u(secrets.token_bytes(32))},
            dict(k, n=n_padded),                                  # base64 with '=' / '+'
            {x: v for x, v in k.items() if x != "e"},             # no exponent
            {x: v for x, v in k.items() if x != "n"},             # no modulus
            dict(k, n=12345), dict(k, kty=None), 42, "key", None, [k]]


def junk_rsa_keys(count):
    """RSA-shaped keys nobody has the private half of (random moduli)."""
    return [{"kty": "RSA", "use": "sig", "kid": "junk-%d" % i, "x5t": "junk-%d" % i,
             "n": b64u(b"\xc1" + secrets.token_bytes(255)), "e": "AQAB",
             "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}
            for i in range(count)]


def generated_groups(n):
    return [GROUP_PATTERN % i for i in range(1, n + 1)]


def effective_groups(user, explicit, personal):
    """The user's groups: the listed ones, then groups_count generated ones.
    Personal accounts have none unless the test set them explicitly."""
    if personal and not ({"groups", "groups_count"} & explicit):
        return []
    out, seen = [], set()
    listed = [g for g in user.get("groups") or [] if isinstance(g, str)] \
        if isinstance(user.get("groups"), list) else []
    for g in listed + generated_groups(int(user.get("groups_count") or 0)):
        if g not in seen:
            seen.add(g)
            out.append(g)
    return out


def claims_json(claims, bad):
    """The payload's JSON text; deep_json nests a claim past any parser's
    depth limit (built as text: Python's encoder would recurse)."""
    text = json.dumps(claims, separators=(",", ":"))
    if bad == "deep_json":
        text = text[:-1] + ',"deep":' + "[" * DEEP_JSON_DEPTH + "]" * DEEP_JSON_DEPTH + "}"
    return text


def jws(header, claims, key, bad=None):
    """Compact JWS; `bad` forges it in one of the bad_token ways."""
    if bad == "kid_path":
        header = dict(header, kid=KID_PATH)
    if bad == "alg_none":
        return b64u_json({"typ": "JWT", "alg": "none"}) + "." + b64u_json(claims) + "."
    if bad == "hs256_pubkey":   # the classic RS256->HS256 key-confusion forgery
        header = dict(header, alg="HS256")
        si = (b64u_json(header) + "." + b64u_json(claims)).encode()
        return si.decode() + "." + b64u(hmac.new(key.public_pem, si, hashlib.sha256).digest())
    si = (b64u_json(header) + "." + b64u(claims_json(claims, bad).encode())).encode()
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
        self.msa_keys = [SigningKey(msa=True)]   # personal accounts' keys, same rule
        self.first_keys = (self.keys, self.msa_keys)   # what rotate_keys {"restore"} goes back to first
        self.key_stack = []    # the keys before each rotation (rotate_keys {"restore"} pops)
        self.rogue = None            # for unknown_kid: made on first use, never published
        self.fic_key = None          # the "external issuer" key of /_mock/federated_token
        self.codes = {}              # code -> grant (dict), see authorize()
        self.refresh_tokens = {}     # refresh token -> grant
        self.access_tokens = {}      # access token -> dict, see mint()
        self.sessions = {}           # ESTSAUTH cookie -> {"auth_time": t} (Entra's SSO sessions)
        # The app registration's redirect URIs (POST /_mock/app): exact
        # matches only.  Not a switch: /_mock/reset keeps them.
        self.redirect_uris = []
        self.attacker_base = None    # set by main(): a listener on another port
        self.reset()

    def reset(self):
        with self.lock:
            self.user = dict(DEFAULT_USER)
            self.removed = set()     # claims a null in `user` removed (any claim)
            self.explicit = set()    # keys the tests set in `user` (not defaults)
            self.client_secret = CLIENT_SECRET
            self.switches = {"fail": {}, "slow": {}, "malformed": {}, "drop": {}}
            self.bad_token = None
            self.authorize_error = None
            self.token_error = None
            self.key_issuer = None   # None: Entra's; a string: that; False: no issuer property
            self.cloud = "global"
            self.client_certs = []   # [ClientCert]
            self.federated = {"issuer": None, "subject": None, "audience": FIC_AUDIENCE}
            self.mi_lifetime = None          # seconds; None: MI_TOKEN_TTL
            self.tenant_kind = None          # None: workforce; "ciam": External ID
            self.b2c_tfp = None              # B2C: the tfp tokens carry (None: the policy's)
            self.withhold_refresh_token = False  # no refresh_token, offline_access or not
            self.used_jtis = {}      # jti -> exp (certificate assertions are single use)
            self.graph_page_size = None
            self.groups_overage = False
            self.api_token_version = 2       # accessTokenAcceptedVersion of the app's API
            self.access_token_lifetime = None    # None: TOKEN_TTL
            self.app_roles = list(APP_ROLES)
            self.jwks_shape = None
            self.discovery_override = {}
            self.token_type = None   # None: "Bearer"; a string: that; False: left out
            self.no_kid = False      # ID and access tokens without kid (and x5t) in the header
            self.profile_override = {}   # userinfo and Graph /me members: value, or None = left out
            self.extra_redirect_uris = []    # registered for one test (reset clears them)
            self.refresh_token_lifetime = None   # seconds for refresh tokens issued afterwards
            self.refresh_expired_before = None   # refresh tokens issued until then: AADSTS700082
            self.revoked_before = None       # user's sessions revoked then: AADSTS50173
            self.interaction_required = None     # {"code", "error", "claims", "grants"}
            self.cae_challenge = None        # the echo backend's /cae/...: {"claims", "always", "www_authenticate"}
            self.graph_consented = list(GRAPH_CONSENTED)
            self.graph_foreign_next_link = False
            self.foreign_requests = []       # what the "attacker" listener received
            self.stats = {"requests": {e: 0 for e in ENDPOINTS}, "last": {},
                          "grants": {"authorization_code": 0, "refresh_token": 0,
                                     "client_credentials": 0, "other": 0},
                          "foreign": self.foreign_requests}

    def config_view(self):
        with self.lock:
            return {"user": self.user, "removed_claims": sorted(self.removed),
                    "client_secret": self.client_secret,
                    **{k: dict(v) for k, v in self.switches.items()},
                    "bad_token": self.bad_token, "authorize_error": self.authorize_error,
                    "token_error": self.token_error, "key_issuer": self.key_issuer,
                    "cloud": self.cloud,
                    "client_certificate": [c.describe() for c in self.client_certs],
                    "federated_issuer": self.federated["issuer"],
                    "federated_subject": self.federated["subject"],
                    "federated_audience": self.federated["audience"],
                    "graph_page_size": self.graph_page_size,
                    "groups_overage": self.groups_overage,
                    "api_token_version": self.api_token_version,
                    "access_token_lifetime": self.access_token_lifetime,
                    "app_roles": list(self.app_roles), "jwks_shape": self.jwks_shape,
                    "discovery_override": dict(self.discovery_override),
                    "token_type": self.token_type, "no_kid": self.no_kid,
                    "profile_override": dict(self.profile_override),
                    "redirect_uris": list(self.redirect_uris),
                    "extra_redirect_uris": list(self.extra_redirect_uris),
                    "refresh_token_lifetime": self.refresh_token_lifetime,
                    "refresh_expired_before": self.refresh_expired_before,
                    "revoked_before": self.revoked_before,
                    "interaction_required": self.interaction_required,
                    "graph_consented": list(self.graph_consented),
                    "graph_foreign_next_link": self.graph_foreign_next_link,
                    "cae_challenge": self.cae_challenge}

    def configure(self, cfg):
        """Merge a /_mock/config body; returns an error string or None.

        Validates everything before changing anything, so a typo in a test
        fails loudly instead of silently configuring nothing."""
        if not isinstance(cfg, dict):
            return "config must be a JSON object"
        known = {"withhold_refresh_token", "cae_challenge", "user", "client_secret", "fail", "slow", "malformed", "drop",
                 "bad_token", "authorize_error", "token_error", "key_issuer", "cloud",
                 "client_certificate", "federated_issuer", "federated_subject",
                 "federated_audience", "graph_page_size", "groups_overage",
                 "api_token_version", "access_token_lifetime", "app_roles", "jwks_shape",
                 "discovery_override", "token_type", "no_kid", "profile_override",
                 "extra_redirect_uris", "refresh_token_lifetime", "expire_refresh_tokens",
                 "revoke_sessions", "interaction_required", "graph_consented",
                 "graph_foreign_next_link", "managed_identity_lifetime", "tenant_kind", "b2c_tfp"}
        if set(cfg) - known:
            return "unknown config keys: %s" % sorted(set(cfg) - known)
        if not isinstance(cfg.get("user", {}), (dict, type(None))):
            return "user must be an object"
        gc = (cfg.get("user") or {}).get("groups_count")
        if gc is not None and not (isinstance(gc, int) and not isinstance(gc, bool)
                                   and 0 <= gc <= 100000):
            return "user.groups_count must be an integer 0..100000 (or null)"
        if not (cfg.get("key_issuer") is None or cfg["key_issuer"] is False
                or isinstance(cfg["key_issuer"], str)):
            return "key_issuer must be a string, false (no issuer property) or null (Entra's)"
        if cfg.get("cloud") not in (None,) + tuple(CLOUDS):
            return "cloud must be null or one of %s" % ", ".join(CLOUDS)
        certs = None
        if cfg.get("client_certificate") is not None:
            try:
                certs = parse_certs(cfg["client_certificate"])
            except Exception as e:     # noqa: any parse failure is the test's typo
                return "client_certificate: %s" % e
        for k in ("federated_issuer", "federated_subject", "federated_audience"):
            if not isinstance(cfg.get(k, ""), (str, type(None))):
                return "%s must be a string or null" % k
        gps = cfg.get("graph_page_size")
        if gps is not None and not (isinstance(gps, int) and not isinstance(gps, bool)
                                    and 1 <= gps <= 999):
            return "graph_page_size must be null or an integer 1..999"
        if not isinstance(cfg.get("groups_overage", False), (bool, type(None))):
            return "groups_overage must be true, false or null"
        if cfg.get("api_token_version") not in (None, 1, 2) or cfg.get("api_token_version") is True:
            return "api_token_version must be 1, 2 or null (2)"
        atl = cfg.get("access_token_lifetime")
        if atl is not None and not (isinstance(atl, int) and not isinstance(atl, bool)
                                    and 1 <= atl <= 86400):
            return "access_token_lifetime must be null or an integer 1..86400 (seconds)"
        ar = cfg.get("app_roles")
        if ar is not None and not (isinstance(ar, list) and all(isinstance(x, str) for x in ar)):
            return "app_roles must be null or a list of strings"
        if not isinstance(cfg.get("client_secret", ""), str):
            return "client_secret must be a string"
        if cfg.get("jwks_shape") not in (None,) + JWKS_SHAPES:
            return "jwks_shape must be null or one of %s" % ", ".join(JWKS_SHAPES)
        do = cfg.get("discovery_override")
        if do is not None and not (isinstance(do, dict) and all(
                isinstance(v, (str, type(None))) for v in do.values())):
            return "discovery_override must be null or {field: string or null}"
        tt = cfg.get("token_type")
        if not (tt is None or tt is False or isinstance(tt, str)):
            return "token_type must be a string, false (left out) or null (Bearer)"
        if not isinstance(cfg.get("no_kid", False), (bool, type(None))):
            return "no_kid must be true, false or null"
        po = cfg.get("profile_override")
        if po is not None and not isinstance(po, dict):
            return "profile_override must be null or {member: value, or null to leave it out}"
        eru = cfg.get("extra_redirect_uris")
        if eru is not None and not (isinstance(eru, list) and all(isinstance(x, str) for x in eru)):
            return "extra_redirect_uris must be null or a list of URLs"
        rtl = cfg.get("refresh_token_lifetime")
        if rtl is not None and not (isinstance(rtl, int) and not isinstance(rtl, bool) and rtl >= 1):
            return "refresh_token_lifetime must be null or a positive integer (seconds)"
        for k in ("expire_refresh_tokens", "revoke_sessions", "graph_foreign_next_link"):
            if not isinstance(cfg.get(k, False), (bool, type(None))):
                return "%s must be true, false or null" % k
        ir = cfg.get("interaction_required")
        if not (ir is None or ir is False or ir is True or (
                isinstance(ir, dict) and set(ir) <= {"code", "error", "claims", "grants"}
                and isinstance(ir.get("code", 50076), int)
                and isinstance(ir.get("error", ""), str) and isinstance(ir.get("claims", ""), str)
                and isinstance(ir.get("grants", []), list))):
            return ("interaction_required must be null, true or {code, error, claims, grants}")
        cc = cfg.get("cae_challenge")
        if not (cc is None or cc is False or cc is True or (
                isinstance(cc, dict) and set(cc) <= {"claims", "always", "www_authenticate"}
                and isinstance(cc.get("claims", ""), str)
                and isinstance(cc.get("always", False), bool)
                and isinstance(cc.get("www_authenticate", ""), str))):
            return "cae_challenge must be null, true or {claims, always, www_authenticate}"
        gc2 = cfg.get("graph_consented")
        if gc2 is not None and not (isinstance(gc2, list) and all(isinstance(x, str) for x in gc2)):
            return "graph_consented must be null or a list of permission names"
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

        mil = cfg.get("managed_identity_lifetime")
        if mil is not None and not (isinstance(mil, int) and not isinstance(mil, bool)
                                    and 1 <= mil <= 86400):
            return "managed_identity_lifetime must be null or an integer 1..86400 (seconds)"
        if cfg.get("tenant_kind") not in (None, "ciam"):
            return "tenant_kind must be null (workforce) or \"ciam\" (External ID)"
        with self.lock:
            if "b2c_tfp" in cfg:
                self.b2c_tfp = cfg["b2c_tfp"]
            if "withhold_refresh_token" in cfg:
                self.withhold_refresh_token = bool(cfg["withhold_refresh_token"])
            if "tenant_kind" in cfg:
                self.tenant_kind = cfg["tenant_kind"]
            if "managed_identity_lifetime" in cfg:
                self.mi_lifetime = mil
            for k, v in (cfg.get("user") or {}).items():
                if v is None:
                    self.user.pop(k, None)
                    self.removed.add(k)
                    self.explicit.discard(k)
                else:
                    self.user[k] = v
                    self.removed.discard(k)
                    self.explicit.add(k)
            if "key_issuer" in cfg:
                self.key_issuer = cfg["key_issuer"]
            if "cloud" in cfg:
                self.cloud = cfg["cloud"] or "global"
            if "client_certificate" in cfg:
                self.client_certs = certs or []
            if "federated_issuer" in cfg:
                self.federated["issuer"] = cfg["federated_issuer"] or None
            if "federated_subject" in cfg:
                self.federated["subject"] = cfg["federated_subject"] or None
            if "federated_audience" in cfg:
                self.federated["audience"] = cfg["federated_audience"] or FIC_AUDIENCE
            if "graph_page_size" in cfg:
                self.graph_page_size = cfg["graph_page_size"]
            if "groups_overage" in cfg:
                self.groups_overage = bool(cfg["groups_overage"])
            if "api_token_version" in cfg:
                self.api_token_version = cfg["api_token_version"] or 2
            if "access_token_lifetime" in cfg:
                self.access_token_lifetime = cfg["access_token_lifetime"]
            if "app_roles" in cfg:
                self.app_roles = list(APP_ROLES) if cfg["app_roles"] is None else list(cfg["app_roles"])
            if "client_secret" in cfg:
                self.client_secret = cfg["client_secret"] or CLIENT_SECRET
            if "jwks_shape" in cfg:
                self.jwks_shape = cfg["jwks_shape"]
            if "token_type" in cfg:
                self.token_type = cfg["token_type"]
            if "no_kid" in cfg:
                self.no_kid = bool(cfg["no_kid"])
            if "profile_override" in cfg:
                if cfg["profile_override"] is None:
                    self.profile_override = {}
                else:
                    self.profile_override.update(cfg["profile_override"])
            if "extra_redirect_uris" in cfg:
                self.extra_redirect_uris = list(cfg["extra_redirect_uris"] or [])
            if "refresh_token_lifetime" in cfg:
                self.refresh_token_lifetime = cfg["refresh_token_lifetime"]
            now = time.time()
            if "expire_refresh_tokens" in cfg:
                self.refresh_expired_before = now if cfg["expire_refresh_tokens"] else None
            if "revoke_sessions" in cfg:
                self.revoked_before = now if cfg["revoke_sessions"] else None
            if "interaction_required" in cfg:
                ir = cfg["interaction_required"]
                if ir:
                    ir = dict({"code": 50076, "error": "interaction_required",
                               "claims": DEFAULT_CLAIMS_CHALLENGE, "grants": ["refresh_token"]},
                              **(ir if isinstance(ir, dict) else {}))
                self.interaction_required = ir or None
            if "cae_challenge" in cfg:
                cc = cfg["cae_challenge"]
                if cc:
                    cc = dict({"claims": DEFAULT_CAE_CHALLENGE, "always": False},
                              **(cc if isinstance(cc, dict) else {}))
                self.cae_challenge = cc or None
            if "graph_consented" in cfg:
                self.graph_consented = (list(GRAPH_CONSENTED) if cfg["graph_consented"] is None
                                        else list(cfg["graph_consented"]))
            if "graph_foreign_next_link" in cfg:
                self.graph_foreign_next_link = bool(cfg["graph_foreign_next_link"])
            if "discovery_override" in cfg:
                for k, v in (cfg["discovery_override"] or {}).items():
                    if v is None:
                        self.discovery_override.pop(k, None)
                    else:
                        self.discovery_override[k] = v
                if cfg["discovery_override"] is None:
                    self.discovery_override = {}
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

    def registered(self, uri):
        """Is uri one of the app registration's redirect URIs (exactly)?

        Entra compares scheme, host, port and path (case-sensitive) with the
        registered ones; it ignores the port of loopback URIs (RFC 8252), but
        the suite's 127.0.0.1/localhost stand for a production host name, so
        the mock does not."""
        with self.lock:
            return isinstance(uri, str) and (uri in self.redirect_uris
                                             or uri in self.extra_redirect_uris)

    def rotate_keys(self, keep_old, restore=False):
        # restore: the keys from before the last rotation not yet restored
        # (or those the mock started with): a test that rotates and restores
        # leaves the keys as it found them, so the caches that hold them stay
        # good whichever test rotated before it
        if restore:
            with self.lock:
                before = self.key_stack.pop() if self.key_stack else self.first_keys
                self.keys, self.msa_keys = (list(k) for k in before)
                return self.keys[0].kid
        new, new_msa = SigningKey(), SigningKey(msa=True)   # slow part outside the lock
        with self.lock:
            self.key_stack.append((list(self.keys), list(self.msa_keys)))
            self.keys = [new] + (self.keys if keep_old else [])
            self.msa_keys = [new_msa] + (self.msa_keys if keep_old else [])
        return new.kid

    def signing_key(self, bad=None, personal=False):
        with self.lock:
            if bad == "unknown_kid":
                if self.rogue is None:
                    self.rogue = SigningKey(msa=personal)
                return self.rogue
            return self.msa_keys[0] if personal else self.keys[0]

    def cloud_info(self):
        with self.lock:
            return CLOUDS[self.cloud]

    def make_fic_token(self, iss, sub, aud, exp_in, nbf_in=0):
        """An external workload token (Kubernetes service-account shaped)."""
        with self.lock:
            if self.fic_key is None:
                self.fic_key = SigningKey()
            key = self.fic_key
        now = int(time.time())
        claims = {"aud": [aud], "exp": now + exp_in, "iat": now, "iss": iss,
                  "nbf": now + nbf_in, "sub": sub, "jti": guid()}
        m = re.match(r"system:serviceaccount:([^:]+):(.+)$", sub)
        if m:
            claims["kubernetes.io"] = {"namespace": m.group(1),
                                       "serviceaccount": {"name": m.group(2), "uid": guid()}}
        header = {"alg": "RS256", "kid": key.kid}
        return jws(header, claims, key), header, claims

    def v2_issuer(self, tid):
        """The v2 issuer for a tenant (or the "{tenantid}" template).  An
        External ID (customer) tenant's is https://<tid>.ciamlogin.com/<tid>/v2.0:
        the GUID as host too, whatever subdomain or custom domain the app
        uses (the mock serves it from its own address all the same)."""
        with self.lock:
            kind = self.tenant_kind
        if kind == "ciam":
            return "https://%s.ciamlogin.com/%s/v2.0" % (tid, tid)
        return "%s/%s/v2.0" % (self.base, tid)

    def mi_issuer(self):
        """The issuer of the tenant's managed identity tokens: the v2 issuer on
        the cloud's authority host (what the federated credential names)."""
        with self.lock:
            host = CLOUDS[self.cloud]["authority_host"]
        return "https://%s/%s/v2.0" % (host, TENANT_ID)

    def make_mi_token(self, resource):
        """The managed identity's access token for `resource`, signed with the
        tenant's key -> (token, expires_on)."""
        with self.lock:
            key = self.keys[0]
            life = self.mi_lifetime or MI_TOKEN_TTL
        now = int(time.time())
        claims = {"aud": resource, "iss": self.mi_issuer(), "iat": now - BACKDATE,
                  "nbf": now - BACKDATE, "exp": now + life, "sub": MI_OBJECT_ID,
                  "oid": MI_OBJECT_ID, "tid": TENANT_ID, "appid": MI_CLIENT_ID,
                  "azp": MI_CLIENT_ID, "idtyp": "app", "ver": "2.0", "uti": opaque(16),
                  "xms_mirid": "/subscriptions/00000000-0000-0000-0000-000000000000/"
                               "resourcegroups/rg/providers/Microsoft.ManagedIdentity/"
                               "userAssignedIdentities/mock-identity"}
        return jws({"alg": "RS256", "typ": "JWT", "kid": key.kid, "x5t": key.kid}, claims,
                   key), now + life

    def count(self, endpoint):
        with self.lock:
            self.stats["requests"][endpoint] += 1

    def count_grant(self, grant_type):
        with self.lock:
            g = self.stats["grants"]
            g[grant_type if grant_type in g else "other"] += 1

    def remember(self, endpoint, params):
        with self.lock:
            self.stats["last"][endpoint] = params

    # ---- tokens

    def mint(self, grant):
        """Token response for a grant (from a code or a refresh token)."""
        v1, scopes = grant["v1"], grant["scope"].split()
        with self.lock:
            user, removed, explicit = dict(self.user), set(self.removed), set(self.explicit)
            bad, cloud, overage = self.bad_token, CLOUDS[self.cloud], self.groups_overage
            ttl, api_version = self.access_token_lifetime or TOKEN_TTL, self.api_token_version
            token_type, consented = self.token_type, list(self.graph_consented)
        now = int(time.time())
        tid = user.get("tid", grant["tid"])
        personal = tid == CONSUMERS_TID     # a Microsoft account (outlook.com, ...)
        sts = "%s/%s/" % (cloud["sts"], tid)
        iss = sts if v1 else self.v2_issuer(tid)
        if grant.get("policy") and not v1:
            iss = B2C_ISSUER % tid
        given, _, family = (user.get("name") or "").partition(" ")
        upn = user.get("upn", user.get("preferred_username"))

        # What the access token is for, and its scp.  v1: the resource (Graph by
        # default) and the permissions the app was granted (v1 ignores scope);
        # v2: the app's own API when its scopes are asked for, else Graph, with
        # the requested scopes (the resource's URI prefix dropped).
        api_names = [] if v1 else api_scope_names(scopes)[0]
        if v1:
            aud = grant.get("resource") or GRAPH_APP_ID
            scp = " ".join(consented) if aud in GRAPH_AUDS else "user_impersonation"
        elif api_names:
            aud = CLIENT_ID if api_version == 2 else APP_ID_URI
            scp = " ".join(api_names)
        else:
            aud = GRAPH_APP_ID
            asked = [re.sub(r"^(https://graph\.microsoft\.com/|%s/)" % GRAPH_APP_ID, "", s)
                     for s in scopes if s != "offline_access"]
            # Entra adds what the app has consent for (User.Read on a new app)
            scp = " ".join(asked + [x for x in consented if x not in asked])
        resp = {"token_type": "Bearer", "scope": scp if v1 else " ".join(scopes),
                "expires_in": ttl, "ext_expires_in": ttl}
        if token_type is False:
            del resp["token_type"]
        elif token_type is not None:
            resp["token_type"] = token_type
        if v1:   # the v1 endpoint sends its numbers as JSON strings
            resp.update(expires_in=str(ttl), ext_expires_in=str(ttl),
                        expires_on=str(now + ttl), not_before=str(now - BACKDATE),
                        resource=aud)

        if api_names:
            # An access token for this app's own API: a plain RS256 JWT that the
            # app can (and must) validate itself.
            at = self.api_access_token(user, tid, now, ttl, api_version, scp=scp,
                                       roles=user.get("roles"), sid=grant["sid"])[0]
        elif personal:
            # Microsoft-account access tokens are opaque "compact tickets", not JWTs.
            at = "EwB" + opaque(900)
        else:
            # Graph-style JWT; the header nonce makes it unverifiable for all but Graph.
            at_claims = {
                "aud": aud, "iss": sts,
                "iat": now - BACKDATE, "nbf": now - BACKDATE, "exp": now + ttl,
                "acct": 0, "acr": "1", "aio": opaque(48), "amr": ["pwd"],
                "app_displayname": "mod_auth_entra tests", "appid": CLIENT_ID, "appidacr": "1",
                "family_name": user.get("family_name", family),
                "given_name": user.get("given_name", given),
                "idtyp": "user", "ipaddr": "127.0.0.1", "name": user.get("name"),
                "oid": user.get("oid"), "platf": "3", "rh": "0.A" + opaque(40), "scp": scp,
                "sub": b64u(hashlib.sha256(("graph:%s" % user.get("oid")).encode()).digest()[:32]),
                "tid": tid, "unique_name": upn, "upn": upn, "uti": opaque(16), "ver": "1.0"}
            key = self.signing_key()
            at = jws({"typ": "JWT", "nonce": opaque(32), "alg": "RS256", "x5t": key.kid,
                      "kid": key.kid}, at_claims, key)
        resp["access_token"] = at

        with self.lock:
            withhold = self.withhold_refresh_token
        if ("offline_access" in scopes or v1) and not withhold:   # v1 always hands them out
            resp["refresh_token"] = ("M.C" if personal else "1.A") + opaque(180)
        if "openid" in scopes or v1:
            resp["id_token"] = self.id_token(grant, user, removed, explicit, bad, tid, iss, now,
                                             v1, scopes, personal, cloud, overage)

        with self.lock:
            self.access_tokens[at] = {"exp": now + ttl, "user": user, "removed": removed,
                                      "explicit": explicit, "grant": grant, "aud": aud,
                                      "scp": scp, "personal": personal}
            if "refresh_token" in resp:
                self.refresh_tokens[resp["refresh_token"]] = {
                    "grant": grant, "issued": time.time(),
                    "expires": now + (self.refresh_token_lifetime or REFRESH_TOKEN_TTL)}
        return resp

    def api_access_token(self, user, tid, now, ttl, version, scp=None, roles=None, app=False,
                         sid=None, aud=None, azp=CLIENT_ID, bad=None, nbf_in=None, issuer_tid=None,
                         extra=None):
        """An access token for this app's own API -> (token, header, claims).

        version 2: aud = the client id, iss BASE/{tid}/v2.0, azp; version 1:
        aud = the App ID URI, iss https://sts.windows.net/{tid}/, appid.
        app: an app-only (client credentials) token: roles, no scp, no user.
        issuer_tid: put another tenant in iss than tid (a forgery)."""
        cloud = self.cloud_info()
        itid = issuer_tid or tid
        iss = ("%s/%s/" % (cloud["sts"], itid)) if version == 1 else "%s/%s/v2.0" % (self.base, itid)
        c = {"aud": aud or (APP_ID_URI if version == 1 else CLIENT_ID), "iss": iss,
             "iat": now - BACKDATE, "nbf": now - BACKDATE if nbf_in is None else now + nbf_in,
             "exp": now + ttl, "aio": opaque(48)}
        if version == 1:
            c.update(appid=azp, appidacr="1")
        else:
            c.update(azp=azp, azpacr="1")
        if app:
            c.update(idtyp="app", oid=SP_OID, sub=SP_OID)
        else:
            given, _, family = (user.get("name") or "").partition(" ")
            upn = user.get("upn", user.get("preferred_username"))
            c.update(name=user.get("name"), oid=user.get("oid"), sub=user.get("sub"))
            if sid:
                c["sid"] = sid
            if version == 1:
                c.update(acr="1", amr=["pwd"], family_name=user.get("family_name", family),
                         given_name=user.get("given_name", given), ipaddr="127.0.0.1",
                         unique_name=upn, upn=upn)
            else:
                c["preferred_username"] = user.get("preferred_username")
            if scp:
                c["scp"] = scp
        if roles:
            c["roles"] = list(roles)
        c.update(rh="0.A" + opaque(40), tid=tid, uti=opaque(16), ver="1.0" if version == 1 else "2.0")
        c = {k: v for k, v in c.items() if v is not None}
        if extra:                           # e.g. B2C's issuer and tfp
            c.update(extra)
        key = self.signing_key(bad)
        header = {"typ": "JWT", "alg": "RS256", "kid": key.kid}
        if version == 1:
            header["x5t"] = key.kid
        return jws(self.kid_switch(header), c, key, bad), header, c

    def id_token(self, grant, user, removed, explicit, bad, tid, iss, now, v1, scopes,
                 personal, cloud, overage):
        iat = now - BACKDATE
        c = {"aud": CLIENT_ID, "iss": iss, "iat": iat, "nbf": iat, "exp": iat + 3900,
             "aio": opaque(60)}
        if v1:
            given, _, family = (user.get("name") or "").partition(" ")
            upn = user.get("upn", user.get("preferred_username"))
            c.update(amr=["pwd"], family_name=family, given_name=given, ipaddr="127.0.0.1",
                     unique_name=upn, upn=upn)
        if grant.get("nonce") is not None:
            c["nonce"] = grant["nonce"]
        if grant.get("max_age") and grant.get("auth_time"):
            c["auth_time"] = grant["auth_time"]     # asked for with max_age
        c.update(rh="0.A" + opaque(40), sid=grant["sid"], tid=tid, uti=opaque(16),
                 ver="1.0" if v1 else "2.0")
        if grant.get("acrs"):
            c["acrs"] = list(grant["acrs"])        # the contexts asked for and satisfied
        c.update({k: v for k, v in user.items()
                  if k not in GRAPH_ONLY and k not in MOCK_ONLY})   # the test's user wins
        for k in removed:
            c.pop(k, None)
        if v1:
            # v1 ID tokens have upn/unique_name, no preferred_username; email
            # only as an optional claim (= set explicitly in the user switch).
            for k in ("preferred_username", "email"):
                if k not in explicit:
                    c.pop(k, None)
        elif "email" not in scopes:         # Entra v2: email only with the email scope
            c.pop("email", None)
        if personal:                        # Microsoft accounts have no app roles or groups
            for k in ("roles", "groups", "wids"):
                if k not in explicit:
                    c.pop(k, None)
        had = "groups" in c
        if had and not isinstance(c["groups"], list) and not (overage or user.get("groups_count")):
            pass                            # an odd test value goes out as it is
        elif overage or had or user.get("groups_count"):
            self.groups_claim(c, effective_groups(user, explicit, personal), had, overage, cloud,
                              tid, user.get("oid"))

        if grant.get("policy") and not v1:
            with self.lock:
                tfp = self.b2c_tfp
            c["tfp"] = tfp or grant["policy"]
            c["emails"] = [user.get("email") or "", B2C_SECOND_EMAIL]
            c.pop("preferred_username", None)
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
        elif bad == "v1_issuer" and not v1:     # v2-shaped, but from the v1 STS
            c["iss"] = "%s/%s/" % (cloud["sts"], tid)
        if v1 and "openid" not in scopes and bad is None:
            # v1 without the openid scope: the token response's id_token is
            # unsigned (Microsoft's v1 auth-code docs), informational only.
            return b64u_json({"typ": "JWT", "alg": "none"}) + "." + b64u_json(c) + "."
        key = self.signing_key(bad, personal)
        return jws(self.kid_switch({"typ": "JWT", "alg": "RS256", "kid": key.kid}), c, key, bad)

    def kid_switch(self, header):
        """The no_kid switch: the header names no key (no kid, no x5t), as
        OpenID Connect allows when the JWKS holds one key."""
        with self.lock:
            if not self.no_kid:
                return header
        return {k: v for k, v in header.items() if k not in ("kid", "x5t")}

    @staticmethod
    def groups_claim(c, groups, had, overage, cloud, tid, oid):
        """groups, or (over 200, or forced) Entra's overage indication, which
        points at the retired Azure AD Graph."""
        c.pop("groups", None)
        if overage or len(groups) > OVERAGE_LIMIT:
            c["_claim_names"] = {"groups": "src1"}
            c["_claim_sources"] = {"src1": {"endpoint": "https://%s/%s/users/%s/getMemberObjects"
                                            % (cloud["cloud_graph_host_name"], tid, oid)}}
        elif had or groups:
            c["groups"] = groups

    def bearer(self, authz):
        """Authorization header -> the access-token entry, or (None, reason)."""
        m = re.match(r"\s*bearer\s+(\S+)\s*$", authz or "", re.I)
        if not m:
            return None, "Access token is empty."
        with self.lock:
            entry = self.access_tokens.get(m.group(1))
        if entry is None:
            return None, "Access token validation failure."
        if entry["exp"] <= time.time():
            return None, "Lifetime validation failed, the token is expired."
        return entry, None

    def bearer_user(self, authz):
        """Authorization header -> (user snapshot, grant) of a live access token."""
        entry, _ = self.bearer(authz)
        return (entry["user"], entry["grant"]) if entry else (None, None)


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
        if not any(k.lower() == "cache-control" for k, _ in headers):
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

    def __init__(self, addr, handler, label, mock, fd=None):
        self.label, self.mock = label, mock
        if fd is None:
            super().__init__(addr, handler)
            return
        # a socket the caller bound and listens on, handed over open (held
        # from the moment its port was chosen: no other process can take it)
        super().__init__(addr, handler, bind_and_activate=False)
        self.socket.close()
        self.socket = socket.socket(fileno=fd)
        self.server_address = self.socket.getsockname()
        self.socket.listen(self.request_queue_size)

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------
# The echo backend


class EchoHandler(Handler):
    def cae(self):
        """/cae/...: an API that does Continuous Access Evaluation.  With the
        cae_challenge switch set it answers 401 with a claims challenge
        (WWW-Authenticate: Bearer ..., error="insufficient_claims",
        claims="<base64 JSON>") unless the access token it is given
        (X-Entra-Access-Token) came from a sign-in whose authorize request
        asked for those claims (a token Entra issued after the challenge
        was met); "always" challenges every token, "www_authenticate" is
        sent as it is instead.  Returns True when it answered."""
        mock = self.server.mock
        with mock.lock:
            cc = dict(mock.cae_challenge) if mock.cae_challenge else None
            entry = mock.access_tokens.get(self.headers.get("X-Entra-Access-Token") or "")
        if cc is None or not self.url_path.startswith("/cae/"):
            return False
        asked = (entry or {}).get("grant", {}).get("claims")
        try:
            want = json.loads(cc["claims"])
            have = json.loads(asked) if asked else {}
            met = isinstance(want, dict) and isinstance(have, dict) and all(
                isinstance(have.get(k), dict) and all(have[k].get(m) == v for m, v in want[k].items())
                for k in want if isinstance(want[k], dict))
        except ValueError:
            met = False
        with mock.lock:
            mock.stats["last"]["cae"] = {"path": self.url_path, "met": bool(met and entry),
                                         "token_claims": asked}
        if met and entry and not cc.get("always"):
            return False
        header = cc.get("www_authenticate") or (
            'Bearer realm="", authorization_uri="%s/common/oauth2/v2.0/authorize", '
            'error="insufficient_claims", claims="%s"'
            % (mock.base, base64.b64encode(cc["claims"].encode()).decode()))
        self.json(401, {"error": {"code": "InvalidAuthenticationToken",
                                  "message": "Continuous access evaluation resulted in "
                                             "challenge with result: InteractionRequired"}},
                  headers=[("WWW-Authenticate", header)])
        return True

    def route(self):
        if self.cae():
            return
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
# The "attacker": another host a forged @odata.nextLink points at


ATTACKER_GROUP = "2f6a4c1e-0000-4000-8000-0000000bad01"


class AttackerHandler(Handler):
    """Records every request (with its Authorization header) in the mock's
    stats "foreign", and answers like a Graph page that would add a group."""

    def route(self):
        mock = self.server.mock
        with mock.lock:
            if len(mock.foreign_requests) < 100:
                mock.foreign_requests.append({
                    "method": self.command, "path": self.url_path, "query": self.query_string,
                    "authorization": self.headers.get("Authorization")})
        self.json(200, {"@odata.context": "https://evil.example/$metadata#Collection(Edm.String)",
                        "value": [ATTACKER_GROUP]})


# --------------------------------------------------------------------------
# Mock Entra

T = r"/(?P<tenant>[^/]+)"
ROUTES = [  # (regex, endpoint for stats/switches or None, method name, fixed kwargs)
    (r"/metadata/identity/oauth2/token", "imds", "imds_token", {"appservice": False}),
    (r"/msi/token", "imds", "imds_token", {"appservice": True}),
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
    (r"(?i)/v1\.0/me", "graph", "graph_me", {}),
    (r"(?i)/v1\.0/me/getMemberObjects", "graph_groups", "graph_member_objects", {}),
    (r"(?i)/v1\.0/me/transitiveMemberOf(?P<cast>/microsoft\.graph\.group)?", "graph_groups",
     "graph_transitive", {}),
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
        self.policy = None
        b2c = B2C_POLICY_RE.match(self.url_path)
        if b2c:     # a B2C policy's endpoints: the same, for that policy
            self.policy = b2c.group(2)
            self.url_path = "/" + b2c.group(1) + b2c.group(3)
        for rx, endpoint, fn, kw in ROUTES:
            m = rx.match(self.url_path)
            if m:
                names = [endpoint]
                if endpoint == "graph_groups":
                    names = (["graph_next"] if "$skiptoken" in self.query else []) + \
                        ["graph_groups", "graph"]
                if endpoint and self.switched(names):
                    return
                return getattr(self, fn)(**m.groupdict(), **kw)
        self.json(404, {"error": "not_found", "error_description": "mock: no such endpoint %s" % self.url_path})

    def switched(self, names):
        """Count the request under each name, then apply slow/drop/fail/malformed
        (the first name with a setting wins). True = answered."""
        mock = self.mock
        for n in names:
            mock.count(n)
        endpoint = names[-1]

        def pick(sw):
            for n in names:
                if mock.switches[sw].get(n) is not None:
                    return mock.switches[sw][n]
            return None
        with mock.lock:
            slow, drop, fail, malformed = (pick(s) for s in ("slow", "drop", "fail", "malformed"))
        if slow:
            time.sleep(slow)
        if drop:
            self.close_connection = True      # handler returns without writing a byte
            self.replied = True
            return True
        if fail:
            if endpoint == "graph":
                self.graph_error(fail)
            elif endpoint in ("authorize", "logout"):
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

    def redirect(self, location, headers=()):
        self.reply(302, "", ctype="text/html; charset=utf-8",
                   headers=[("Location", location), ("x-ms-request-id", self.trace_id)]
                   + list(headers))

    def deliver(self, redirect_uri, mode, params, headers=()):
        """Send authorize results back the way response_mode asks."""
        params = [(k, v) for k, v in params if v is not None]
        if mode == "form_post":
            inputs = "".join('<input type="hidden" name="%s" value="%s" />\n'
                             % (html.escape(k), html.escape(v)) for k, v in params)
            self.reply(200, FORM_POST_PAGE % (html.escape(redirect_uri), inputs),
                       ctype="text/html; charset=utf-8", headers=headers)
        elif mode == "fragment":
            self.redirect(redirect_uri.split("#")[0] + "#" + urlencode(params), headers)
        else:
            sep = "&" if "?" in redirect_uri else "?"
            self.redirect(redirect_uri.split("#")[0] + sep + urlencode(params), headers)

    def cookie(self, name):
        """A cookie's value from the request, or None."""
        for h in self.headers.get_all("Cookie") or []:
            for part in h.split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v
        return None

    # ---- discovery and keys

    def discovery(self, tenant, v1):
        tmpl = resolve_tenant(tenant)
        if tmpl is None:
            return self.unknown_tenant(tenant)
        b, t = self.mock.base, tenant
        graph_host = urlsplit(b).netloc     # always the mock itself, whatever the cloud
        cloud = self.mock.cloud_info()
        common = {
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "http_logout_supported": True, "frontchannel_logout_supported": True,
            "tenant_region_scope": None if tmpl == "{tenantid}" else cloud["tenant_region_scope"],
            "cloud_instance_name": cloud["cloud_instance_name"],
            "cloud_graph_host_name": cloud["cloud_graph_host_name"],
            "msgraph_host": graph_host, "rbac_url": cloud["rbac_url"],
        }
        if v1:
            doc = {"token_endpoint": "%s/%s/oauth2/token" % (b, t),
                   "jwks_uri": "%s/common/discovery/keys" % b,
                   "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
                   "scopes_supported": ["openid"],
                   "issuer": "%s/%s/" % (cloud["sts"], tmpl),
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
                   "issuer": self.mock.v2_issuer(tmpl),
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
        with self.mock.lock:
            override = dict(self.mock.discovery_override)
        if self.policy and not v1:
            tp = "%s/%s" % (t, self.policy)
            doc.update({"issuer": B2C_ISSUER % TENANT_ID,
                        "authorization_endpoint": "%s/%s/oauth2/v2.0/authorize" % (b, tp),
                        "token_endpoint": "%s/%s/oauth2/v2.0/token" % (b, tp),
                        "end_session_endpoint": "%s/%s/oauth2/v2.0/logout" % (b, tp),
                        "jwks_uri": "%s/%s/discovery/v2.0/keys" % (b, tp),
                        "claims_supported": ["name", "emails", "oid", "sub", "idp", "tfp",
                                             "iss", "iat", "exp", "aud", "acr", "nonce",
                                             "auth_time"]})
            for k in ("userinfo_endpoint", "msgraph_host", "cloud_instance_name",
                      "kerberos_endpoint", "device_authorization_endpoint"):
                doc.pop(k, None)
        for k, v in override.items():     # a document that changed since the last fetch
            doc[k] = v.replace("{base}", b).replace("{tenant}", t)
        self.json(200, doc, headers=[("Cache-Control", METADATA_CACHE_CONTROL)])

    def jwks(self, tenant, v1):
        """Entra's keys carry issuer = the v2 issuer (template) of that tenant
        path; common/organizations (v2) also list the Microsoft-account keys,
        whose issuer is the consumers tenant's; consumers lists only those."""
        tmpl = resolve_tenant(tenant)
        if tmpl is None:
            return self.unknown_tenant(tenant)
        mock = self.mock
        issuer = mock.v2_issuer(tmpl)
        with mock.lock:
            if mock.tenant_kind == "ciam":
                # External ID's keys name the tenant by template, as host and in the path
                issuer = mock.v2_issuer("{tenantid}")
        msa_issuer = "%s/%s/v2.0" % (mock.base, CONSUMERS_TID)
        mock.remember("jwks", {"path": self.url_path, "query": self.query_string})
        with mock.lock:
            keys, msa_keys, forced = list(mock.keys), list(mock.msa_keys), mock.key_issuer
            cin = CLOUDS[mock.cloud]["cloud_instance_name"]
            shape = mock.jwks_shape
        if tmpl == CONSUMERS_TID:
            listed = [(k, msa_issuer) for k in msa_keys]
        else:
            listed = [(k, issuer) for k in keys]
            if tmpl == "{tenantid}" and not v1:
                listed += [(k, msa_issuer) for k in msa_keys]
        if self.policy:     # B2C's keys have no issuer property
            listed, forced = [(k, None) for k in keys], False
        good = [k.jwk(iss if forced is None else forced, cin) for k, iss in listed]
        cache = [("Cache-Control", METADATA_CACHE_CONTROL)]
        if shape == "no_usable_key":
            good = unusable_keys(good)
        elif shape == "huge":
            good = junk_rsa_keys(HUGE_JWKS_JUNK_KEYS) + good
        elif shape == "one":
            good = good[:1]
        elif shape == "several":
            good = good + junk_rsa_keys(SEVERAL_JUNK_KEYS)
        self.json(200, {"keys": good}, headers=cache)

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
        # Only a redirect URI of the app registration, exactly; Entra never
        # sends the browser to another one (not even with an error).
        if not mock.registered(redirect_uri):
            return self.error_page(400, 50011, KNOWN_ERRORS[50011] % (redirect_uri, CLIENT_ID))

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
        if not v1 and p.get("resource"):
            return fail("invalid_request", "AADSTS901002: " + KNOWN_ERRORS[901002])
        if challenge is not None:
            if method not in ("S256", "plain"):
                return fail("invalid_request", "AADSTS50149: Invalid Code_Challenge_method parameter.")
            if not 43 <= len(challenge) <= 128:
                return fail("invalid_request", "AADSTS501491: Invalid size of Code_Challenge parameter.")
        prompt = p.get("prompt")
        if prompt is not None and prompt not in ("login", "none", "consent", "select_account"):
            return fail("invalid_request", "AADSTS90023: Invalid prompt value '%s'." % prompt)
        max_age = p.get("max_age")
        if max_age is not None and not max_age.isdigit():
            return fail("invalid_request", "AADSTS90023: Invalid max_age value '%s'." % max_age)
        # claims: {"id_token":{"acrs":{"essential":true,"value":"c1"}}} (or
        # "values"), the authentication contexts the app asks for
        asked_acrs = []
        if p.get("claims") is not None:
            try:
                claims_req = json.loads(p["claims"])
                acrs_req = ((claims_req.get("id_token") or {}).get("acrs") or {}
                            if isinstance(claims_req, dict) else {})
                if not isinstance(acrs_req, dict):
                    raise ValueError
            except (ValueError, AttributeError):
                return fail("invalid_request", "AADSTS90015: The claims parameter is not valid "
                                               "JSON.")
            vals = acrs_req.get("values") or ([acrs_req["value"]] if "value" in acrs_req else [])
            asked_acrs = [v for v in vals if isinstance(v, str) and re.match(r"^c[1-9][0-9]?$", v)]
        with mock.lock:
            can = mock.user.get("auth_contexts", list(AUTH_CONTEXTS_DEFAULT))
        satisfied = [v for v in asked_acrs if isinstance(can, list) and v in can]

        # Entra's own browser session (ESTSAUTH): single sign-on.  prompt=none
        # needs one; prompt=login, or a max_age older than its sign-in, asks
        # for credentials again (a fresh auth_time).  The user then signs in,
        # silently: the configured user.
        now = int(time.time())
        with mock.lock:
            session = mock.sessions.get(self.cookie(SESSION_COOKIE) or "")
        if session is None and prompt == "none":
            return fail("login_required", "AADSTS50058: " + KNOWN_ERRORS[50058])
        fresh = (session is None or prompt == "login"
                 or (max_age is not None and now - session["auth_time"] >= int(max_age)))
        if fresh and prompt == "none":
            return fail("login_required", "AADSTS50058: " + KNOWN_ERRORS[50058])
        set_cookie = []
        if fresh:
            ests = opaque(32)
            session = {"auth_time": now}
            with mock.lock:
                if len(mock.sessions) > 10000:
                    mock.sessions.clear()
                mock.sessions[ests] = session
            set_cookie = [("Set-Cookie", "%s=%s; path=/; HttpOnly"
                           % (SESSION_COOKIE, ests))]
        with mock.lock:
            mock.stats["last"]["authorize"] = dict(p, _signed_in="fresh" if fresh else "sso",
                                                   _auth_time=session["auth_time"])
        sid = guid()
        code = "1.A" + opaque(240)
        grant = {"tid": home_tid(tmpl), "v1": v1, "client_id": CLIENT_ID, "sid": sid,
                 "scope": p.get("scope") or ("" if v1 else "openid"), "resource": p.get("resource"),
                 "nonce": p.get("nonce"), "redirect_uri": redirect_uri, "claims": p.get("claims"),
                 "challenge": challenge, "method": method, "expires": time.time() + CODE_TTL,
                 "used": False, "auth_time": session["auth_time"],
                 "max_age": max_age is not None, "login_hint": p.get("login_hint"),
                 "acrs": satisfied, "policy": self.policy}
        with mock.lock:
            mock.codes[code] = grant
        self.deliver(redirect_uri, mode, [("code", code), ("state", state), ("session_state", sid)],
                     headers=set_cookie)

    # ---- managed identity (IMDS / App Service)

    def imds_token(self, appservice):
        """GET ?api-version=...&resource=...&client_id=... as Azure's
        endpoints answer it: 400 without the header, 400 for an identity not
        assigned here, else the token with string expires_on (epoch)."""
        q = self.query
        if self.command != "GET":
            return self.json(405, {"error": "invalid_request",
                                   "error_description": "Only GET is supported"})
        if appservice:
            if self.headers.get("X-IDENTITY-HEADER") != MI_IDENTITY_HEADER:
                return self.json(401, {"statusCode": 401, "message":
                                       "Unauthorized: X-IDENTITY-HEADER missing or wrong"})
            version = "2019-08-01"
        else:
            if self.headers.get("Metadata", "").lower() != "true":
                return self.json(400, {"error": "invalid_request",
                                       "error_description": "Required metadata header not specified"})
            version = "2018-02-01"
        if q.get("api-version") != version:
            return self.json(400, {"error": "invalid_request",
                                   "error_description": "Invalid or missing api-version"})
        resource = q.get("resource")
        if not resource:
            return self.json(400, {"error": "invalid_request",
                                   "error_description": "Required query variable 'resource' is missing"})
        cid = (q.get("client_id") or "").lower()
        if cid != MI_CLIENT_ID:
            return self.json(400, {"error": "invalid_request",
                                   "error_description": "Identity not found"})
        token, expires_on = self.mock.make_mi_token(resource)
        self.mock.remember("imds", {"query": dict(q), "appservice": appservice,
                                    "metadata": self.headers.get("Metadata"),
                                    "identity_header": self.headers.get("X-IDENTITY-HEADER")})
        answer = {"access_token": token, "expires_on": str(expires_on), "resource": resource,
                  "token_type": "Bearer"}
        if appservice:
            answer["client_id"] = MI_CLIENT_ID
        else:
            answer.update({"client_id": MI_CLIENT_ID, "expires_in": str(expires_on - int(time.time())),
                           "ext_expires_in": str(expires_on - int(time.time())),
                           "not_before": str(int(time.time()) - BACKDATE)})
        self.json(200, answer)

    # ---- token

    def client_credentials(self):
        """-> (auth_method, client_id, client_secret, basic parse error).

        A client assertion whose iss is a GUID is a certificate credential
        (private_key_jwt, iss = sub = client id); any other iss (an external
        issuer's URL) makes it a federated credential."""
        authz = self.headers.get("Authorization", "")
        if authz[:6].lower() == "basic ":
            try:
                raw = base64.b64decode(authz[6:].strip(), validate=True).decode("utf-8")
                cid, secret = raw.split(":", 1)
                # RFC 6749 2.3.1: both form-urlencoded before base64 (a raw "+"
                # is a space); Entra decodes them so.
                return "client_secret_basic", unquote_plus(cid), unquote_plus(secret), False
            except Exception:
                return "client_secret_basic", None, None, True
        if "client_secret" in self.form:
            return "client_secret_post", self.form.get("client_id"), self.form["client_secret"], False
        if "client_assertion" in self.form or "client_assertion_type" in self.form:
            self.assertion = None
            try:
                self.assertion = jwt_decode(self.form.get("client_assertion", ""))
            except Exception:
                pass
            iss = self.assertion[1].get("iss") if self.assertion else None
            method = "federated" if isinstance(iss, str) and not is_guid(iss) else "private_key_jwt"
            return method, self.form.get("client_id"), None, False
        return "none", self.form.get("client_id"), None, False

    def assertion_error(self, code, message, status=401, error="invalid_client"):
        self.entra_error(status, error, code, message)
        return None

    def check_assertion(self, method, cid):
        """Authenticate the client by its assertion, as Entra does.
        -> the client id, or None once an error has been answered."""
        f, mock = self.form, self.mock
        atype = f.get("client_assertion_type")
        if not atype:
            return self.assertion_error(900144, "The request body must contain the following "
                                        "parameter: 'client_assertion_type'.", 400, "invalid_request")
        if atype != JWT_BEARER:
            return self.assertion_error(90011, "Unexpected client assertion type.", 400,
                                        "invalid_request")
        if not f.get("client_assertion"):
            return self.assertion_error(900144, "The request body must contain the following "
                                        "parameter: 'client_assertion'.", 400, "invalid_request")
        if self.assertion is None:
            return self.assertion_error(50027, "JWT token is invalid or malformed.")
        header, claims, signing_input, sig = self.assertion
        now = time.time()
        exp, nbf = num(claims.get("exp")), num(claims.get("nbf"))

        def out_of_range():
            return self.assertion_error(700024, "Client assertion is not within its valid time "
                                        "range. Current time: %s, assertion valid from %s, expiry "
                                        "time of assertion %s. Review the documentation at %s ."
                                        % (assertion_time(now), assertion_time(nbf or 0),
                                           assertion_time(exp), CERT_DOC))

        if method == "federated":
            # A workload token from an external issuer (Kubernetes, GitHub, ...).
            # Entra verifies its signature with the keys from that issuer's
            # OIDC discovery; the mock cannot reach them (no network, and the
            # issuer is made up), so it checks everything but the signature.
            if not cid:
                return self.assertion_error(900144, "The request body must contain the following "
                                            "parameter: 'client_id'.", 400, "invalid_request")
            if cid.lower() != CLIENT_ID:
                return self.assertion_error(700016, "Application with identifier '%s' was not found "
                                            "in the directory 'Contoso'." % cid, 400,
                                            "unauthorized_client")
            if header.get("alg") in (None, "none", "None") or not sig:
                return self.assertion_error(50027, "Invalid JWT token. External ID token from "
                                            "issuer failed signature verification.")
            if claims.get("iss") == mock.mi_issuer():
                # A managed identity's token: Entra's own, so it checks the signature.
                with mock.lock:
                    keys = {k.kid: k for k in mock.keys}
                k = keys.get(header.get("kid"))
                try:
                    if not k or header.get("alg") != "RS256":
                        raise InvalidSignature()
                    k.key.public_key().verify(sig, signing_input, padding.PKCS1v15(),
                                              hashes.SHA256())
                except InvalidSignature:
                    return self.assertion_error(50027, "Invalid JWT token. Token signature "
                                                "validation failed.")
            with mock.lock:
                reg = dict(mock.federated)
            iss, sub, aud = claims.get("iss"), claims.get("sub"), claims.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            shown_aud = ",".join(str(a) for a in auds)
            check_doc = ("Check your federated identity credential Subject, Audience and Issuer "
                         "against the presented assertion. %s" % FIC_DOC)
            if not (reg["issuer"] and reg["subject"]):
                return self.assertion_error(70021, "No matching federated identity record found for "
                                            "presented assertion. Assertion Issuer: '%s'. Assertion "
                                            "Subject: '%s'. Assertion Audience: '%s'. %s"
                                            % (iss, sub, shown_aud, FIC_DOC))
            if iss != reg["issuer"]:
                return self.assertion_error(700211, "No matching federated identity record found for "
                                            "presented assertion issuer '%s'. Please note that the "
                                            "matching is done using a case-sensitive comparison. %s"
                                            % (iss, check_doc))
            if sub != reg["subject"]:
                return self.assertion_error(700213, "No matching federated identity record found for "
                                            "presented assertion subject '%s'. %s" % (sub, check_doc))
            if reg["audience"] not in auds:
                return self.assertion_error(700212, "No matching federated identity record found for "
                                            "presented assertion audience '%s'. Please note that the "
                                            "matching is done using a case-sensitive comparison. %s"
                                            % (shown_aud, check_doc))
            if exp is None or exp <= now or (nbf is not None and nbf > now + SKEW):
                return out_of_range()
            return cid

        # Certificate credential (private_key_jwt).
        iss, sub = claims.get("iss"), claims.get("sub")
        app = cid or iss
        if not app:
            return self.assertion_error(900144, "The request body must contain the following "
                                        "parameter: 'client_id'.", 400, "invalid_request")
        if app.lower() != CLIENT_ID:
            return self.assertion_error(700016, "Application with identifier '%s' was not found in "
                                        "the directory 'Contoso'." % app, 400, "unauthorized_client")
        if not (isinstance(iss, str) and iss.lower() == app.lower()
                and isinstance(sub, str) and sub.lower() == app.lower()):
            return self.assertion_error(700021, "Client assertion application identifier doesn't "
                                        "match 'client_id' parameter. Review the documentation at "
                                        "%s ." % CERT_DOC)
        alg = header.get("alg")
        if alg not in ("RS256", "PS256"):
            return self.assertion_error(5002730, "Invalid JWT token. Unsupported key for the "
                                        "signing algorithm.")
        # The header names the certificate by thumbprint: x5t (SHA-1) with
        # RS256, x5t#S256 (SHA-256) with PS256 (or RS256).  A kid is not used.
        use256 = alg == "PS256" or "x5t#S256" in header
        presented = header.get("x5t#S256" if use256 else "x5t")
        try:
            thumb_hex = unb64u(presented).hex().upper() if isinstance(presented, str) else ""
        except ValueError:
            thumb_hex = ""
        with mock.lock:
            certs = list(mock.client_certs)
        cert = next((c for c in certs if isinstance(presented, str)
                     and presented == (c.x5t_s256 if use256 else c.x5t)), None)
        if cert is None:
            return self.assertion_error(700027, "The certificate with identifier used to sign the "
                                        "client assertion is not registered on application. [Reason "
                                        "- The key was not found., Thumbprint of key used by client: "
                                        "'%s', Please visit the Azure Portal, Graph Explorer or "
                                        "directly use MS Graph to see configured keys for app Id "
                                        "'%s'. Review the documentation at "
                                        "https://docs.microsoft.com/en-us/graph/deployments if you "
                                        "are not using the global cloud.]" % (thumb_hex, CLIENT_ID))
        found = "Found key 'Start=%s, End=%s'" % (
            time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(cert.not_before)),
            time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(cert.not_after)))
        if cert.not_after < now:
            return self.assertion_error(700027, "Client assertion contains an invalid signature. "
                                        "[Reason - The key used is expired., Thumbprint of key used "
                                        "by client: '%s', %s]" % (thumb_hex, found))
        pad = (padding.PKCS1v15() if alg == "RS256" else
               padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32))   # JWA: salt = 32
        try:
            cert.public_key.verify(sig, signing_input, pad, hashes.SHA256())
        except (InvalidSignature, TypeError, ValueError, AttributeError):
            return self.assertion_error(700027, "Client assertion contains an invalid signature. "
                                        "[Reason - The provided signature value did not match the "
                                        "expected signature value., Thumbprint of key used by client: "
                                        "'%s', %s]" % (thumb_hex, found))
        if claims.get("aud") != self.mock.base + self.url_path:     # the URL that was called
            return self.assertion_error(700023, "Client assertion audience claim does not match "
                                        "Realm issuer. Review the documentation at %s ." % CERT_DOC)
        if (exp is None or exp <= now or exp > now + ASSERTION_MAX_LIFETIME + SKEW
                or (nbf is not None and nbf > now + SKEW)):
            return out_of_range()
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            return self.assertion_error(50027, "Invalid JWT token. The client assertion has no "
                                        "'jti' claim.")
        with mock.lock:
            for j in [j for j, e in mock.used_jtis.items() if e < now - SKEW]:
                del mock.used_jtis[j]
            if jti in mock.used_jtis:
                replay = True
            else:
                replay = False
                mock.used_jtis[jti] = exp
        if replay:
            return self.assertion_error(50027, "Invalid JWT token. The client assertion's 'jti' "
                                        "was already used.")
        return app

    def token(self, tenant, v1):
        mock, f = self.mock, self.form
        self.assertion = None
        method, cid, secret, basic_bad = self.client_credentials()
        last = dict(f, auth_method=method)
        if method == "client_secret_basic":
            last.update(basic_client_id=cid, basic_client_secret=secret)
        if method in ("private_key_jwt", "federated"):
            last["client_assertion_jwt"] = f.get("client_assertion")
            last["client_assertion"] = ({"header": self.assertion[0], "claims": self.assertion[1]}
                                        if self.assertion else {"error": "not a JWT"})
        mock.remember("token", last)
        if self.command != "POST":
            return self.entra_error(400, "invalid_request", 900561, "The endpoint only accepts "
                                    "POST, OPTIONS requests. Received a %s request." % self.command)
        if resolve_tenant(tenant) is None:
            return self.unknown_tenant(tenant)
        mock.count_grant(f.get("grant_type"))
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
        if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
            return self.entra_error(400, "unsupported_grant_type", 70003, "The app requested an "
                                    "unsupported grant type '%s'." % grant_type)
        if not v1 and f.get("resource"):
            return self.entra_error(400, "invalid_request", 901002, KNOWN_ERRORS[901002])
        if basic_bad:
            return self.entra_error(401, "invalid_client", 7000215, KNOWN_ERRORS[7000215] % "?")
        if method in ("private_key_jwt", "federated"):
            if self.check_assertion(method, cid) is None:
                return
        else:
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

        if grant_type == "client_credentials":
            return self.client_credentials_grant(tenant, v1)
        with mock.lock:
            ir = mock.interaction_required
        if ir and grant_type in ir["grants"]:
            return self.interaction_required(ir)
        if grant_type == "authorization_code":
            code = f.get("code")
            if not code:
                return missing("code")
            if not f.get("redirect_uri"):
                return missing("redirect_uri")
            if not mock.registered(f["redirect_uri"]):
                return self.entra_error(400, "invalid_request", 50011,
                                        KNOWN_ERRORS[50011] % (f["redirect_uri"], CLIENT_ID))
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
                if not v1 and self.two_resources(g["scope"]):
                    return
                g["used"] = True
            grant = dict(g, v1=v1)
        else:
            rt = f.get("refresh_token")
            if not rt:
                return missing("refresh_token")
            # Entra's refresh tokens are not spent by use: each answer brings a
            # new one, and the old one stays good until it expires or the
            # user's sessions are revoked.
            with mock.lock:
                entry = mock.refresh_tokens.get(rt)
                expired_before, revoked_before = mock.refresh_expired_before, mock.revoked_before
            if entry is None:
                return self.entra_error(400, "invalid_grant", 9002313, "Invalid request. Request "
                                        "is malformed or invalid.")
            g = entry["grant"]
            if revoked_before is not None and entry["issued"] <= revoked_before:
                return self.entra_error(400, "invalid_grant", 50173, KNOWN_ERRORS[50173] % (
                    entra_time(entry["issued"]), entra_time(revoked_before)))
            if entry["expires"] <= time.time() or (expired_before is not None
                                                   and entry["issued"] <= expired_before):
                return self.entra_error(400, "invalid_grant", 700082, KNOWN_ERRORS[700082] % (
                    entra_time(entry["issued"]), "90.00:00:00"))
            if not v1 and self.two_resources(f.get("scope") or g["scope"]):
                return
            grant = dict(g, v1=v1)
            if f.get("scope"):
                grant["scope"] = f["scope"]
        if v1:
            # The v1 token endpoint takes resource (the API the access token is
            # for; required if authorize had none) and tolerates scope.
            if f.get("resource"):
                grant["resource"] = f["resource"]
            if f.get("scope") and grant_type == "authorization_code":
                have = grant["scope"].split()
                grant["scope"] = " ".join(have + [s for s in f["scope"].split() if s not in have])
        resp = mock.mint(grant)
        mock.remember("token_response", resp)
        self.json(200, resp, headers=[("x-ms-request-id", self.trace_id)])

    def interaction_required(self, ir):
        """Conditional Access wants the user back at authorize (MFA, a
        policy): the error answer carries the claims challenge, raw JSON, to
        send as the claims parameter there."""
        code = ir["code"]
        ts = entra_time()
        msg = KNOWN_ERRORS.get(code, "Interaction required (mock, AADSTS%d)." % code)
        if "%s" in msg:
            msg = msg % GRAPH_APP_ID
        desc = "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s" % (
            code, msg, self.trace_id, self.correlation_id, ts)
        self.json(400, {"error": ir["error"], "error_description": desc, "error_codes": [code],
                        "timestamp": ts, "trace_id": self.trace_id,
                        "correlation_id": self.correlation_id,
                        "error_uri": "%s/error?code=%d" % (self.mock.base, code),
                        "suberror": "basic_action", "claims": ir["claims"]},
                  headers=[("x-ms-request-id", self.trace_id)])

    def two_resources(self, scope):
        """v2: one access token is for one resource, the app's API or Graph.
        True once the AADSTS28000 error has been answered (nothing is spent)."""
        api, other = api_scope_names((scope or "").split())
        if api and other:
            self.entra_error(400, "invalid_scope", 28000, KNOWN_ERRORS[28000] % scope)
            return True
        return False

    def client_credentials_grant(self, tenant, v1):
        """grant_type=client_credentials (the client already authenticated):
        scope <resource>/.default; an app-only token for the app's own API with
        the app roles, no scp and no user claims, no refresh or ID token."""
        mock, f = self.mock, self.form
        if v1:
            resource = f.get("resource")
            if not resource:
                return self.entra_error(400, "invalid_request", 900144, "The request body must "
                                        "contain the following parameter: 'resource'.")
        else:
            scope = f.get("scope")
            if not scope:
                return self.entra_error(400, "invalid_request", 900144, "The request body must "
                                        "contain the following parameter: 'scope'.")
            if len(scope.split()) != 1 or not scope.endswith("/.default"):
                return self.entra_error(400, "invalid_scope", 1002012, KNOWN_ERRORS[1002012] % scope)
            resource = scope[:-len("/.default")]
        if resource.lower() not in (APP_ID_URI.lower(), CLIENT_ID):
            return self.entra_error(400, "invalid_resource", 500011, KNOWN_ERRORS[500011] % resource)
        with mock.lock:
            ttl = mock.access_token_lifetime or TOKEN_TTL
            version, roles = mock.api_token_version, list(mock.app_roles)
        now = int(time.time())
        at = mock.api_access_token({}, home_tid(resolve_tenant(tenant)), now, ttl, version,
                                   roles=roles, app=True)[0]
        resp = {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": at}
        if v1:
            resp.update(expires_in=str(ttl), ext_expires_in=str(ttl), expires_on=str(now + ttl),
                        not_before=str(now - BACKDATE), resource=resource)
        mock.remember("token_response", resp)
        self.json(200, resp, headers=[("x-ms-request-id", self.trace_id)])

    # ---- userinfo, Graph, logout

    def graph_error(self, status, code=None, message=None, headers=()):
        """Microsoft Graph's error shape."""
        dflt = {400: ("BadRequest", "Bad request."),
                401: ("InvalidAuthenticationToken", "Access token validation failure."),
                403: ("Authorization_RequestDenied", "Insufficient privileges to complete the "
                                                     "operation."),
                404: ("Request_ResourceNotFound", "Resource not found."),
                405: ("Request_BadRequest", "Specified HTTP method is not allowed for the request "
                                            "target."),
                429: ("TooManyRequests", "Too many requests."),
                500: ("generalException", "General exception while processing."),
                503: ("serviceNotAvailable", "Service unavailable."),
                504: ("gatewayTimeout", "Gateway timeout.")}.get(status, ("UnknownError", ""))
        hdrs = [("request-id", self.trace_id), ("client-request-id", self.correlation_id)]
        if status in (429, 503):
            hdrs.append(("Retry-After", "2"))
        self.json(status, {"error": {"code": code or dflt[0], "message": dflt[1] if message is None
                                     else message,
                                     "innerError": {"date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                                    "request-id": self.trace_id,
                                                    "client-request-id": self.correlation_id}}},
                  headers=hdrs + list(headers))

    def graph_unauthorized(self, message=None):
        if message is None:
            message = ("Access token validation failure." if self.headers.get("Authorization")
                       else "Access token is empty.")
        self.graph_error(401, "InvalidAuthenticationToken", message,
                         headers=[("WWW-Authenticate", 'Bearer realm="", authorization_uri="%s/common/'
                                   'oauth2/authorize", client_id="%s"' % (self.mock.base, GRAPH_APP_ID))])

    def graph_auth(self, permissions=None):
        """The live Graph access token of this request, or None after a 401
        (not a live Graph token) or 403 (none of `permissions` in its scp)."""
        self.mock.remember("graph", {"method": self.command, "path": self.url_path,
                                     "query": self.query,
                                     "body": self.body.decode("utf-8", "replace")})
        entry, why = self.mock.bearer(self.headers.get("Authorization"))
        if entry is not None and entry["aud"] not in GRAPH_AUDS:
            entry, why = None, "Access token validation failure. Invalid audience."
        if entry is not None and not entry["scp"]:
            entry, why = None, "Access token validation failure. The token has no scopes."
        if entry is None:
            self.graph_unauthorized(why)
        elif permissions and not set(str(entry["scp"]).split()) & set(permissions):
            self.graph_error(403, "Authorization_RequestDenied",
                             "Insufficient privileges to complete the operation.")
            entry = None
        return entry

    def userinfo(self, v1, tenant=None):
        entry, _ = self.mock.bearer(self.headers.get("Authorization"))
        self.mock.remember("userinfo", {"path": self.url_path, "v1": v1})
        if entry is None:
            return self.graph_unauthorized()
        user, explicit = entry["user"], entry["explicit"]
        given, _, family = (user.get("name") or "").partition(" ")
        if v1:
            # v1 userinfo: the v1 ID token's claims (amr as a JSON string, as Entra sends it)
            upn = user.get("upn", user.get("preferred_username"))
            info = {"amr": '["pwd"]', "family_name": user.get("family_name", family),
                    "given_name": user.get("given_name", given), "ipaddr": "127.0.0.1",
                    "name": user.get("name"), "oid": user.get("oid"), "rh": "0.A" + opaque(40),
                    "sub": user.get("sub"), "tid": user.get("tid", entry["grant"]["tid"]),
                    "unique_name": upn, "upn": upn, "uti": opaque(16)}
            if "email" in explicit:
                info["email"] = user.get("email")
        else:
            # Graph's OIDC userinfo: sub always; profile and email by the token's scopes.
            scopes = entry["grant"]["scope"].split()
            info = {"sub": user.get("sub")}
            if "profile" in scopes:
                info.update(name=user.get("name"), family_name=user.get("family_name", family),
                            given_name=user.get("given_name", given),
                            picture="%s/v1.0/me/photo/$value" % self.mock.base)
            if "email" in scopes:
                info["email"] = user.get("email")
        self.json(200, self.profile_switch(info))

    def profile_switch(self, info):
        """The profile_override switch: the profile says other things than
        the ID token (a value replaces or adds a member, None drops it)."""
        with self.mock.lock:
            info = dict(info, **self.mock.profile_override)
        return {k: v for k, v in info.items() if v is not None}

    def graph_me(self):
        entry = self.graph_auth(GRAPH_ME_PERMISSIONS)
        if entry is None:
            return
        user, removed = entry["user"], entry["removed"]
        given, _, family = (user.get("name") or "").partition(" ")

        def prop(key, fallback):
            return user[key] if key in user else (None if key in removed else fallback)
        me = {"businessPhones": prop("business_phones", GRAPH_ME_DEFAULTS["business_phones"]),
              "displayName": user.get("name"),
              "givenName": user.get("given_name", given or None),
              "jobTitle": prop("job_title", GRAPH_ME_DEFAULTS["job_title"]),
              "mail": prop("mail", user.get("email")),
              "mobilePhone": prop("mobile_phone", GRAPH_ME_DEFAULTS["mobile_phone"]),
              "officeLocation": prop("office_location", GRAPH_ME_DEFAULTS["office_location"]),
              "preferredLanguage": prop("preferred_language", GRAPH_ME_DEFAULTS["preferred_language"]),
              "surname": user.get("family_name", family or None),
              "userPrincipalName": user.get("upn", user.get("preferred_username")),
              "id": user.get("oid")}
        select = [s.strip() for s in self.query.get("$select", "").split(",") if s.strip()]
        if select:
            me = {k: me.get(k) for k in select}
            ctx = "%s/v1.0/$metadata#users(%s)/$entity" % (self.mock.base, ",".join(select))
        else:
            ctx = "%s/v1.0/$metadata#users/$entity" % self.mock.base
        with self.mock.lock:
            me.update(self.mock.profile_override)
        self.json(200, dict({"@odata.context": ctx}, **me))

    def member_objects(self, entry, security_only, groups_only=False):
        """(type, id, extra) of what the user is a member of: groups, and (unless
        security-only / cast to groups) the directory roles of its wids."""
        user = entry["user"]
        out = [("#microsoft.graph.group", g, {"displayName": "Group %s" % g[-6:],
                                              "securityEnabled": True, "mailEnabled": False,
                                              "groupTypes": []})
               for g in effective_groups(user, entry["explicit"], entry["personal"])]
        if not (security_only or groups_only) and isinstance(user.get("wids"), list):
            for w in user["wids"]:
                out.append(("#microsoft.graph.directoryRole",
                            str(uuid.uuid5(uuid.NAMESPACE_URL, "directoryRole:%s" % w)),
                            {"roleTemplateId": w, "displayName": "Directory role %s" % str(w)[:8]}))
        return out

    def paging(self, kind):
        """Offset and settings carried by $skiptoken (None: first page); raises ValueError."""
        tok = self.query.get("$skiptoken")
        if tok is None:
            return None
        state = json.loads(unb64u(tok))
        if not isinstance(state, dict) or state.get("k") != kind or not isinstance(state.get("o"), int):
            raise ValueError("bad skiptoken")
        return state

    def next_link(self, params, state):
        params = list(params) + [("$skiptoken", b64u_json(state))]
        return "%s%s?%s" % (self.mock.base, self.url_path,
                            "&".join("%s=%s" % (k, quote(str(v), safe=",()")) for k, v in params))

    def graph_member_objects(self):
        """POST /v1.0/me/getMemberObjects: every id in one answer, as Graph does
        (up to 11000), unless graph_page_size forces @odata.nextLink pages
        (the follow-up pages take POST or GET)."""
        entry = self.graph_auth(GRAPH_MEMBER_OBJECTS_PERMISSIONS)
        if entry is None:
            return
        try:
            state = self.paging("mo")
        except (ValueError, TypeError):
            return self.graph_error(400, "Request_BadRequest", "Invalid paging token.")
        if state is None:
            if self.command != "POST":
                return self.graph_error(405)
            try:
                body = json.loads(self.body.decode("utf-8"))
            except ValueError:
                return self.graph_error(400, "BadRequest", "Unable to read JSON request payload. "
                                        "Please ensure Content-Type header is set and payload is of "
                                        "valid JSON format.")
            if not isinstance(body, dict) or not isinstance(body.get("securityEnabledOnly"), bool):
                return self.graph_error(400, "Request_BadRequest", "Invalid request: the parameter "
                                        "'securityEnabledOnly' (true or false) is required.")
            state = {"k": "mo", "o": 0, "s": body["securityEnabledOnly"]}
        elif self.command not in ("POST", "GET"):
            return self.graph_error(405)
        ids = [i for _, i, _ in self.member_objects(entry, state.get("s"))]
        with self.mock.lock:
            size = self.mock.graph_page_size
        off = state["o"]
        doc = {"@odata.context": "%s/v1.0/$metadata#Collection(Edm.String)" % self.mock.base}
        if size is None:
            doc["value"] = ids[off:]
        else:
            doc["value"] = ids[off:off + size]
            if off + size < len(ids):
                doc["@odata.nextLink"] = self.next_link([], dict(state, o=off + size))
        self.foreign_next_link(doc)
        self.json(200, doc)

    def foreign_next_link(self, doc):
        """The graph_foreign_next_link switch: the answer's @odata.nextLink
        points at another host (the mock's "attacker" listener, which records
        what it receives: stats "foreign")."""
        with self.mock.lock:
            on, base = self.mock.graph_foreign_next_link, self.mock.attacker_base
        if on and base:
            doc["@odata.nextLink"] = "%s%s?$skiptoken=%s" % (base, self.url_path,
                                                             b64u_json({"k": "stolen", "o": 1}))

    def graph_transitive(self, cast=None):
        """GET /v1.0/me/transitiveMemberOf[/microsoft.graph.group]?$select=id&$top=N:
        pages of $top (default 100, or graph_page_size) via @odata.nextLink."""
        entry = self.graph_auth(GRAPH_TRANSITIVE_PERMISSIONS)
        if entry is None:
            return
        if self.command not in ("GET", "HEAD"):
            return self.graph_error(405)
        q = self.query
        top = q.get("$top")
        if top is not None and not (top.isdigit() and 1 <= int(top) <= 999):
            return self.graph_error(400, "Request_BadRequest", "Invalid page size specified: '%s'. "
                                    "Must be between 1 and 999 inclusive." % top)
        try:
            state = self.paging("tm") or {"k": "tm", "o": 0}
        except (ValueError, TypeError):
            return self.graph_error(400, "Request_BadRequest", "Invalid paging token.")
        with self.mock.lock:
            dflt = self.mock.graph_page_size or 100
        size = int(top) if top else dflt
        select = [s.strip() for s in q.get("$select", "").split(",") if s.strip()]
        items = []
        for otype, oid, extra in self.member_objects(entry, False, groups_only=bool(cast)):
            obj = dict({"id": oid}, **extra)
            if select:
                obj = {k: obj.get(k) for k in select}
            items.append(dict({"@odata.type": otype}, **obj))
        off = state["o"]
        doc = {"@odata.context": "%s/v1.0/$metadata#%s%s" % (
            self.mock.base, "groups" if cast else "directoryObjects",
            "(%s)" % ",".join(select) if select else ""),
            "value": items[off:off + size]}
        if off + size < len(items):
            params = ([("$select", ",".join(select))] if select else []) + [("$top", size)]
            doc["@odata.nextLink"] = self.next_link(params, dict(state, o=off + size))
        self.foreign_next_link(doc)
        self.json(200, doc)

    def logout(self, tenant, v1):
        p = dict(self.query, **self.form)
        self.mock.remember("logout", p)
        if resolve_tenant(tenant) is None:
            return self.unknown_tenant(tenant, page=True)
        target = p.get("post_logout_redirect_uri")
        # Entra ends its session (ESTSAUTH) in any case, and goes back only to
        # a registered redirect URI; another one is ignored: its own page.
        with self.mock.lock:
            self.mock.sessions.pop(self.cookie(SESSION_COOKIE) or "", None)
            self.mock.stats["last"]["logout"] = dict(p, _redirected=bool(
                target and self.mock.registered(target)))
        if target and self.mock.registered(target):
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
        if action == "app":
            # The app registration: {"redirect_uris": [...]} replaces the list
            # (scheme, host, port and path; matched exactly).  Kept by reset.
            # {"add_redirect_uris": [...]} adds some (another server of the app).
            if posting:
                body = body if isinstance(body, dict) else {}
                add = "add_redirect_uris" in body
                uris = body.get("add_redirect_uris" if add else "redirect_uris")
                if not (isinstance(uris, list) and all(isinstance(u, str) and
                                                       re.match(r"https?://[^/?#]+/", u)
                                                       for u in uris)):
                    return self.json(400, {"error": "redirect_uris must be a list of absolute "
                                                    "http(s) URLs with a path"})
                with mock.lock:
                    mock.redirect_uris = list(dict.fromkeys(
                        (mock.redirect_uris if add else []) + uris))
            with mock.lock:
                return self.json(200, {"redirect_uris": list(mock.redirect_uris)})
        if action == "rotate_keys" and posting:
            body = body if isinstance(body, dict) else {}
            kid = mock.rotate_keys(bool(body.get("keep_old")), bool(body.get("restore")))
            with mock.lock:
                kids = [k.kid for k in mock.keys]
                msa_kids = [k.kid for k in mock.msa_keys]
            return self.json(200, {"kid": kid, "kids": kids, "msa_kid": msa_kids[0],
                                   "msa_kids": msa_kids})
        if action == "federated_token" and self.command in ("GET", "POST"):
            return self.federated_token()
        if action == "api_token" and self.command in ("GET", "POST"):
            return self.api_token()
        if action == "client_certificate" and posting:
            return self.new_client_certificate(body)
        if action == "stats":
            with mock.lock:
                return self.json(200, json.loads(json.dumps(mock.stats)))
        if action == "info":
            with mock.lock:
                kids = [k.kid for k in mock.keys]
                msa_kids = [k.kid for k in mock.msa_keys]
                secret, cloud = mock.client_secret, mock.cloud
            return self.json(200, {
                "msa_kid": msa_kids[0], "msa_kids": msa_kids, "cloud": cloud,
                "cloud_names": CLOUDS[cloud], "federated_audience_default": FIC_AUDIENCE,
                "generated_group_pattern": GROUP_PATTERN, "overage_limit": OVERAGE_LIMIT,
                "app_id_uri": APP_ID_URI, "api_scopes": list(API_SCOPES),
                "app_roles_default": list(APP_ROLES), "service_principal_oid": SP_OID,
                "foreign_tenant_id": FOREIGN_TID, "foreign_aud": FOREIGN_AUD,
                "tenant_id": TENANT_ID, "tenant_domain": TENANT_DOMAIN,
                "consumers_tenant_id": CONSUMERS_TID, "client_id": CLIENT_ID,
                "client_secret": secret, "default_client_secret": CLIENT_SECRET,
                "graph_app_id": GRAPH_APP_ID, "user": DEFAULT_USER,
                "base": mock.base, "backend_base": mock.backend_base,
                "issuer": "%s/%s/v2.0" % (mock.base, TENANT_ID),
                "kid": kids[0], "kids": kids,
                "endpoints": list(ENDPOINTS), "bad_token_kinds": list(BAD_TOKEN_KINDS),
                "attacker_base": mock.attacker_base, "attacker_group": ATTACKER_GROUP,
                "redirect_uris": list(mock.redirect_uris),
                "graph_consented_default": list(GRAPH_CONSENTED),
                "claims_challenge_default": DEFAULT_CLAIMS_CHALLENGE,
                "mi_client_id": MI_CLIENT_ID, "mi_object_id": MI_OBJECT_ID,
                "mi_issuer": mock.mi_issuer(), "mi_identity_header": MI_IDENTITY_HEADER})
        self.json(404 if action not in ("reset", "config", "rotate_keys", "stats", "info",
                                        "federated_token", "client_certificate",
                                        "api_token", "app") else 405,
                  {"error": "unknown control action or method: %s /_mock/%s" % (self.command, action)})


    def federated_token(self):
        """A workload token from the registered external issuer, for the tests
        to write into EntraClientAssertionFile.  Query: sub, exp_in (seconds,
        default 3600; negative = already expired), nbf_in, iss, aud,
        format=json.  Plain text (the bare JWT) by default."""
        mock, q = self.mock, self.query
        with mock.lock:
            reg = dict(mock.federated)
        iss = q.get("iss") or reg["issuer"]
        if not iss:
            return self.json(400, {"error": "no federated_issuer registered and no iss given"})
        try:
            exp_in, nbf_in = int(q.get("exp_in", 3600)), int(q.get("nbf_in", 0))
        except ValueError:
            return self.json(400, {"error": "exp_in and nbf_in must be integers (seconds)"})
        token, header, claims = mock.make_fic_token(
            iss, q.get("sub") or reg["subject"] or "system:serviceaccount:default:workload",
            q.get("aud") or reg["audience"], exp_in, nbf_in)
        if q.get("format") == "json":
            return self.json(200, {"token": token, "header": header, "claims": claims})
        self.reply(200, token, ctype="text/plain; charset=utf-8")

    def api_token(self):
        """An access token for the app's own API, minted directly (no flow):

          version=1|2       token shape (default: the api_token_version switch)
          app=1             app-only (client credentials): roles, no scp, no user
          scp=a b           delegated scopes (default access_as_user; empty: none)
          roles=a,b         roles (default: the user's, or app_roles for app=1; empty: none)
          exp_in=N          lifetime in seconds (default access_token_lifetime or 3599);
                            negative: already expired
          expired=1         expired an hour ago (well past any clock skew)
          nbf_in=N          not before now+N
          aud=...           another audience (wrong_aud=1: a foreign app's client id)
          tenant=other      signed for another tenant (tid and iss of it), or tid=<guid>
          iss_tenant=other  tid ours, iss another tenant's (or a GUID)
          azp=...           the calling client (azp / appid; default the client id)
          b2c_policy=...    an Azure AD B2C access token: B2C's issuer, tfp this policy
          bad=bad_signature|alg_none|hs256_pubkey|unknown_kid|kid_path|deep_json   forged
          format=json       {"token","header","claims"}; default text/plain (the JWT)
        The user is the configured one (the user switch)."""
        mock, q = self.mock, self.query
        with mock.lock:
            user = dict(mock.user)
            dflt_version, ttl = mock.api_token_version, mock.access_token_lifetime or TOKEN_TTL
            app_roles = list(mock.app_roles)
        try:
            version = int(q.get("version") or dflt_version)
            exp_in = int(q["exp_in"]) if q.get("exp_in") else ttl
            nbf_in = int(q["nbf_in"]) if q.get("nbf_in") else None
        except ValueError:
            return self.json(400, {"error": "version, exp_in and nbf_in must be integers"})
        if version not in (1, 2):
            return self.json(400, {"error": "version must be 1 or 2"})
        bad = q.get("bad") or None
        forgeries = ("bad_signature", "alg_none", "hs256_pubkey", "unknown_kid", "kid_path",
                     "deep_json")
        if bad not in (None,) + forgeries:
            return self.json(400, {"error": "bad must be one of " + ", ".join(forgeries)})

        def tenant_of(v):
            return FOREIGN_TID if v == "other" else v
        tid = tenant_of(q.get("tenant") or q.get("tid") or user.get("tid") or TENANT_ID)
        iss_tid = tenant_of(q.get("iss_tenant")) if q.get("iss_tenant") else None
        app = q.get("app") in ("1", "true", "yes")
        roles = q.get("roles")
        roles = (app_roles if app else user.get("roles")) if roles is None \
            else [r for r in re.split(r"[\s,]+", roles) if r]
        scp = None if app else q.get("scp", "access_as_user")
        aud = FOREIGN_AUD if q.get("wrong_aud") in ("1", "true") else q.get("aud") or None
        now = int(time.time())
        if q.get("expired") in ("1", "true"):
            now, exp_in = now - 3600 - BACKDATE, BACKDATE    # iat/nbf 70 min ago, exp 1 h ago
        token, header, claims = mock.api_access_token(
            user, tid, now, exp_in, version, scp=scp or None, roles=roles, app=app, aud=aud,
            azp=q.get("azp") or CLIENT_ID, bad=bad, nbf_in=nbf_in, issuer_tid=iss_tid,
            extra={"iss": B2C_ISSUER % tid, "tfp": q["b2c_policy"]} if q.get("b2c_policy") else None)
        header = json.loads(unb64u(token.split(".")[0]))     # as sent (alg none, HS256)
        if q.get("format") == "json":
            return self.json(200, {"token": token, "header": header, "claims": claims})
        self.reply(200, token, ctype="text/plain; charset=utf-8")

    def new_client_certificate(self, body):
        """Make a self-signed RSA-2048 certificate + key for the app, register
        it (unless {"register": false}) and hand both PEMs back."""
        if not isinstance(body, dict):
            body = {}
        days = body.get("days", 365)
        if not isinstance(days, int) or isinstance(days, bool) or not -3650 <= days <= 3650:
            return self.json(400, {"error": "days must be an integer (negative: already expired)"})
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cn = str(body.get("cn") or "mod_auth_entra tests")
        # days <= 0: already expired (valid from |days|+2 to |days|+1 days ago)
        cert = self_signed(key, cn, days) if days > 0 else self_signed(key, cn, days - 1, 2 - days)
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        cc = ClientCert(pem)
        if body.get("register", True):
            with self.mock.lock:
                self.mock.client_certs.append(cc)
        self.json(200, dict(cc.describe(), certificate=pem, private_key=key_pem,
                            registered=bool(body.get("register", True))))


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description="Mock Microsoft Entra ID + echo backend")
    ap.add_argument("--port", type=int, help="mock Entra port on 127.0.0.1")
    ap.add_argument("--backend-port", type=int, help="echo backend port on 127.0.0.1")
    ap.add_argument("--fd", type=int,
                    help="instead of --port: an inherited socket bound to 127.0.0.1 (listening)")
    ap.add_argument("--backend-fd", type=int, help="instead of --backend-port: the same for the backend")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    ap.add_argument("--redirect-uri", action="append", default=[],
                    help="a redirect URI of the app registration (repeat; also POST /_mock/app)")
    args = ap.parse_args()
    if (args.port is None) == (args.fd is None) or (args.backend_port is None) == (args.backend_fd is None):
        ap.error("give --port or --fd, and --backend-port or --backend-fd")
    Handler.verbose = args.verbose

    try:
        entra = Server(("127.0.0.1", args.port or 0), EntraHandler, "entra", None, fd=args.fd)
        backend = Server(("127.0.0.1", args.backend_port or 0), EchoHandler, "backend", None,
                         fd=args.backend_fd)
        # another host for forged nextLinks: a port the system picks
        attacker = Server(("127.0.0.1", 0), AttackerHandler, "attacker", None)
    except OSError as e:
        sys.stderr.write("mock_entra: cannot listen: %s\n" % e)
        return 1
    entra.mock = attacker.mock = backend.mock = Mock(entra.server_address[1], backend.server_address[1])
    entra.mock.attacker_base = "http://127.0.0.1:%d" % attacker.server_address[1]
    entra.mock.redirect_uris = list(dict.fromkeys(args.redirect_uri))

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
               for s in (entra, backend, attacker)]
    for t in threads:
        t.start()
    print("ready", flush=True)
    while not stop.wait(0.1):
        pass
    for s in (entra, backend, attacker):
        s.shutdown()
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
