#!/usr/bin/python3
"""Self-test of the mock Entra: starts it on free ports and drives every feature.

    /usr/bin/python3 t/mock/selftest.py [-v]

Prints one line per failed check and ends with "N passed, N failed"; exits
non-zero on any failure.  Standard library + python3-cryptography only.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit, quote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HERE = os.path.dirname(os.path.abspath(__file__))
TID = "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
MSA_TID = "9188040d-6c67-4c5b-b112-36a304b66dad"
GRAPH = "00000003-0000-0000-c000-000000000000"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CID = "6731de76-14a6-49ae-97bc-6eba6914391e"
SECRET = "mock+Secret&x=1%41~value.123"
REDIRECT = "http://localhost:8529/.auth/login/aad/callback"
VERBOSE = "-v" in sys.argv
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        if VERBOSE:
            print("ok   ", what)
    else:
        failed += 1
        print("FAIL ", what)
    return cond


def held_port():
    """A socket listening on a port the system picked, to hand to the mock
    (--fd): the port is never free for another process to take."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    s.set_inheritable(True)
    return s, s.getsockname()[1]


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(tok):
    h, p, s = tok.split(".")
    return json.loads(unb64u(h)), json.loads(unb64u(p)), unb64u(s)


class Client:
    def __init__(self, port):
        self.port = port

    def req(self, method, path, body=None, headers=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        if isinstance(body, dict):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def json(self, method, path, body=None, headers=None):
        st, h, data = self.req(method, path, body, headers)
        try:
            return st, h, json.loads(data)
        except ValueError:
            return st, h, None

    def form(self, path, fields, headers=None):
        hdr = {"Content-Type": "application/x-www-form-urlencoded"}
        hdr.update(headers or {})
        return self.json("POST", path, urlencode(fields), hdr)


def jwks_keys(c, path="/%s/discovery/v2.0/keys" % TID):
    return {k["kid"]: k for k in c.json("GET", path)[2]["keys"]}


def verify_rs256(token, keys):
    """True when the JWS verifies against the JWKS (through the x5c cert, and n/e)."""
    h, _, sig = jwt_parts(token)
    k = keys.get(h.get("kid"))
    if h.get("alg") != "RS256" or not k:
        return False
    cert = x509.load_der_x509_certificate(base64.b64decode(k["x5c"][0]))
    pub = rsa.RSAPublicNumbers(int.from_bytes(unb64u(k["e"]), "big"),
                               int.from_bytes(unb64u(k["n"]), "big")).public_key()
    if cert.public_key().public_numbers() != pub.public_numbers():
        return False
    try:
        pub.verify(sig, token.rsplit(".", 1)[0].encode(), padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def login(c, tenant=TID, v="v2.0/", scope="openid profile email offline_access", mode=None,
          pkce=True, extra=None):
    """authorize -> (status, headers, params of the redirect, verifier)."""
    verifier = b64u(os.urandom(32))
    q = {"client_id": CID, "response_type": "code", "redirect_uri": REDIRECT, "scope": scope,
         "state": "st-" + b64u(os.urandom(6)), "nonce": "n-" + b64u(os.urandom(6))}
    if pkce:
        q.update(code_challenge=b64u(hashlib.sha256(verifier.encode()).digest()),
                 code_challenge_method="S256")
    if mode:
        q["response_mode"] = mode
    q.update(extra or {})
    st, h, body = c.req("GET", "/%s/oauth2/%sauthorize?%s" % (tenant, v, urlencode(q)))
    loc = h.get("location", "")
    params = {k: v[0] for k, v in parse_qs(urlsplit(loc).query).items()}
    params["_q"] = q
    return st, h, params, verifier, body


def redeem(c, code, verifier, tenant=TID, v="v2.0/", basic=False, secret=SECRET, redirect=REDIRECT,
           headers=None):
    f = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
         "code_verifier": verifier}
    hdr = dict(headers or {})
    if basic:
        hdr["Authorization"] = "Basic " + base64.b64encode(
            ("%s:%s" % (quote(CID, safe=""), quote(secret, safe=""))).encode()).decode()
    else:
        f.update(client_id=CID, client_secret=secret)
    return c.form("/%s/oauth2/%stoken" % (tenant, v), f, hdr)


def entra_error_ok(st, body, status, error, code):
    return (st == status and isinstance(body, dict) and body.get("error") == error
            and body.get("error_codes") == [code]
            and body["error_description"].startswith("AADSTS%d: " % code)
            and "\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: " % (
                body["trace_id"], body["correlation_id"]) in body["error_description"]
            and body.get("timestamp") and body.get("error_uri"))


def main():
    (sock, port), (bsock, bport) = held_port(), held_port()
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "mock_entra.py"),
                             "--fd", str(sock.fileno()), "--backend-fd", str(bsock.fileno())],
                            stdout=subprocess.PIPE, text=True, pass_fds=(sock.fileno(), bsock.fileno()))
    sock.close()
    bsock.close()
    try:
        ready = select.select([proc.stdout], [], [], 20)[0] and proc.stdout.readline().strip()
        if not check(ready == "ready", "mock prints ready"):
            return
        run(Client(port), Client(bport), port)
        c = Client(port)
        for part in (multi_tenant, v1_endpoints, clouds, certificates, federated, graph,
                     overage, profile, own_api, strict):
            c.json("POST", "/_mock/reset")
            part(c, "http://127.0.0.1:%d" % port, port)
        sigterm(proc, port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print("%d passed, %d failed" % (passed, failed))


def run(c, echo, port):
    base = "http://127.0.0.1:%d" % port
    st, _, d = c.json("POST", "/_mock/app", {"redirect_uris": [REDIRECT, REDIRECT + "?x=1"]})
    check(st == 200 and d["redirect_uris"] == [REDIRECT, REDIRECT + "?x=1"], "app registration")
    _, _, info = c.json("GET", "/_mock/info")
    check(info["base"] == base and info["client_id"] == CID and info["tenant_id"] == TID
          and info["kid"] in info["kids"], "info")

    # ---- discovery
    for tenant, iss in ((TID, "%s/%s/v2.0" % (base, TID)), ("contoso.test", "%s/%s/v2.0" % (base, TID)),
                        ("common", base + "/{tenantid}/v2.0"), ("organizations", base + "/{tenantid}/v2.0"),
                        ("consumers", base + "/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0")):
        st, _, d = c.json("GET", "/%s/v2.0/.well-known/openid-configuration" % tenant)
        check(st == 200 and d["issuer"] == iss
              and d["authorization_endpoint"] == "%s/%s/oauth2/v2.0/authorize" % (base, tenant)
              and d["token_endpoint"] == "%s/%s/oauth2/v2.0/token" % (base, tenant)
              and d["jwks_uri"] == "%s/%s/discovery/v2.0/keys" % (base, tenant)
              and d["userinfo_endpoint"] == base + "/oidc/userinfo"
              and d["end_session_endpoint"] == "%s/%s/oauth2/v2.0/logout" % (base, tenant)
              and d["msgraph_host"] == "127.0.0.1:%d" % port
              and d["token_endpoint_auth_methods_supported"] == ["client_secret_post", "private_key_jwt", "client_secret_basic"]
              and "code_challenge_methods_supported" not in d
              and d["frontchannel_logout_supported"] is True, "v2 discovery " + tenant)
    st, _, d = c.json("GET", "/%s/.well-known/openid-configuration" % TID)
    check(st == 200 and d["issuer"] == "https://sts.windows.net/%s/" % TID
          and d["jwks_uri"] == base + "/common/discovery/keys"
          and d["userinfo_endpoint"] == "%s/%s/openid/userinfo" % (base, TID)
          and d["token_endpoint"] == "%s/%s/oauth2/token" % (base, TID), "v1 discovery")
    st, _, d = c.json("GET", "/nosuch.example/v2.0/.well-known/openid-configuration",
                      headers={"client-request-id": "11111111-2222-4333-8444-555555555555"})
    check(entra_error_ok(st, d, 400, "invalid_tenant", 90002)
          and d["correlation_id"] == "11111111-2222-4333-8444-555555555555", "unknown tenant, client-request-id echoed")

    # ---- JWKS
    for path, iss in (("/%s/discovery/v2.0/keys" % TID, "%s/%s/v2.0" % (base, TID)),
                      ("/common/discovery/keys", base + "/{tenantid}/v2.0")):
        keys = c.json("GET", path)[2]["keys"]
        k = keys[0]
        der = base64.b64decode(k["x5c"][0])
        check(len(keys) == 1 and k["kid"] == k["x5t"] == b64u(hashlib.sha1(der).digest())
              and k["kty"] == "RSA" and k["use"] == "sig" and k["issuer"] == iss
              and len(unb64u(k["n"])) == 256, "jwks " + path)
    keys = jwks_keys(c)

    # ---- authorization code + PKCE, client_secret_post
    t0 = int(time.time())
    st, h, p, ver, _ = login(c)
    check(st == 302 and h["location"].startswith(REDIRECT + "?code=") and p.get("state") == p["_q"]["state"]
          and p.get("session_state"), "authorize 302 with code, state, session_state")
    st, h, tok = redeem(c, p["code"], ver)
    check(st == 200 and tok["token_type"] == "Bearer" and tok["expires_in"] == 3599
          and tok["ext_expires_in"] == 3599 and tok.get("refresh_token") and tok.get("access_token")
          and "offline_access" in tok["scope"], "token (client_secret_post)")
    check(verify_rs256(tok["id_token"], keys), "id_token verifies against JWKS")
    hd, cl, _ = jwt_parts(tok["id_token"])
    check(hd == {"typ": "JWT", "alg": "RS256", "kid": info["kid"]}, "id_token header")
    check(cl["aud"] == CID and cl["iss"] == "%s/%s/v2.0" % (base, TID) and cl["tid"] == TID
          and cl["ver"] == "2.0" and cl["nonce"] == p["_q"]["nonce"]
          and abs(cl["iat"] - (t0 - 300)) <= 3 and cl["nbf"] == cl["iat"] and cl["exp"] == cl["iat"] + 3900
          and cl["email"] == "adele.vance@contoso.test" and cl["roles"] == ["Task.Read", "Admin"]
          and len(cl["groups"]) == 2 and cl["sid"] == p["session_state"]
          and cl["preferred_username"] == "adele@contoso.test" and cl["name"] == "Adele Vance"
          and all(cl.get(x) for x in ("aio", "rh", "uti", "oid", "sub")), "id_token claims")
    ah, acl, _ = jwt_parts(tok["access_token"])
    check("nonce" in ah and acl["aud"] == "00000003-0000-0000-c000-000000000000"
          and acl["scp"] == "openid profile email User.Read", "access token: header nonce, Graph aud, scp (+ consented User.Read)")
    _, _, stats = c.json("GET", "/_mock/stats")
    check(stats["last"]["token"]["auth_method"] == "client_secret_post"
          and stats["last"]["token"]["client_secret"] == SECRET
          and stats["last"]["authorize"]["code_challenge_method"] == "S256", "stats last")
    st, _, d = redeem(c, p["code"], ver)
    check(entra_error_ok(st, d, 400, "invalid_grant", 54005), "code reuse -> 54005")

    # ---- client_secret_basic, with a secret that needs urlencoding
    weird = "s3:cr+t/~%&="
    c.json("POST", "/_mock/config", {"client_secret": weird})
    st, h, p, ver, _ = login(c)
    st, _, d = redeem(c, p["code"], ver, basic=True, secret=SECRET)
    check(entra_error_ok(st, d, 401, "invalid_client", 7000215), "basic with wrong secret -> 401 7000215")
    st, _, tok = redeem(c, p["code"], ver, basic=True, secret=weird)
    check(st == 200 and verify_rs256(tok["id_token"], keys), "token (client_secret_basic)")
    last = c.json("GET", "/_mock/stats")[2]["last"]["token"]
    check(last["auth_method"] == "client_secret_basic" and "client_secret" not in last
          and last["basic_client_secret"] == weird, "stats: basic auth method")
    c.json("POST", "/_mock/reset")

    # ---- token errors
    st, _, d = redeem(c, "1.Anosuchcode", "x")
    check(entra_error_ok(st, d, 400, "invalid_grant", 70008), "unknown code -> 70008")
    st, h, p, ver, _ = login(c)
    st, _, d = redeem(c, p["code"], "wrong-verifier-" + "x" * 40)
    check(entra_error_ok(st, d, 400, "invalid_grant", 50148), "PKCE mismatch -> 50148")
    st, _, d = redeem(c, p["code"], ver, redirect=REDIRECT + "?x=1")
    check(entra_error_ok(st, d, 400, "invalid_grant", 500112), "redirect_uri (registered) not the code's -> 500112")
    st, _, d = redeem(c, p["code"], ver, redirect=REDIRECT + "x")
    check(entra_error_ok(st, d, 400, "invalid_request", 50011), "redirect_uri not registered -> 50011")
    st, _, d = redeem(c, p["code"], ver, secret="nope")
    check(entra_error_ok(st, d, 401, "invalid_client", 7000215), "bad secret -> 401 7000215")
    st, _, d = c.json("GET", "/%s/oauth2/v2.0/token" % TID)
    check(entra_error_ok(st, d, 400, "invalid_request", 900561), "GET token -> 900561")
    st, _, d = c.form("/%s/oauth2/v2.0/token" % TID, {"grant_type": "password", "client_id": CID})
    check(entra_error_ok(st, d, 400, "unsupported_grant_type", 70003), "unsupported grant")
    st, _, tok = redeem(c, p["code"], ver)       # still good after failed attempts
    check(st == 200, "code survives failed attempts")

    # ---- refresh
    rt = tok["refresh_token"]
    st, _, t2 = c.form("/%s/oauth2/v2.0/token" % TID, {"grant_type": "refresh_token", "refresh_token": rt,
                                                       "client_id": CID, "client_secret": SECRET})
    check(st == 200 and t2["refresh_token"] != rt and verify_rs256(t2["id_token"], keys), "refresh grant")
    st, _, d = c.form("/%s/oauth2/v2.0/token" % TID, {"grant_type": "refresh_token", "refresh_token": rt,
                                                      "client_id": CID, "client_secret": SECRET})
    check(st == 200 and d["refresh_token"] not in (rt, t2["refresh_token"]),
          "old refresh token still good after use (as Entra's), a new one each time")
    st, h, p, ver, _ = login(c, scope="openid profile")
    st, _, t3 = redeem(c, p["code"], ver)
    check(st == 200 and "refresh_token" not in t3 and "email" not in jwt_parts(t3["id_token"])[1],
          "no offline_access -> no refresh token; no email scope -> no email")

    # ---- userinfo, Graph
    at = {"Authorization": "Bearer " + tok["access_token"]}
    st, _, u = c.json("GET", "/oidc/userinfo", headers=at)
    check(st == 200 and u["sub"] == cl["sub"] and u["given_name"] == "Adele" and u["family_name"] == "Vance"
          and u["email"] and u["picture"], "userinfo v2")
    st, _, u = c.json("GET", "/%s/openid/userinfo" % TID, headers=at)
    check(st == 200 and u["upn"] == "adele@contoso.test", "userinfo v1")
    st, h, u = c.json("GET", "/oidc/userinfo", headers={"Authorization": "Bearer nope"})
    check(st == 401 and "www-authenticate" in h, "userinfo bad token -> 401")
    check(c.json("GET", "/oidc/userinfo")[0] == 401, "userinfo no token -> 401")
    st, _, me = c.json("GET", "/v1.0/me", headers=at)
    check(st == 200 and me["id"] == cl["oid"] and me["userPrincipalName"] == "adele@contoso.test"
          and me["displayName"] == "Adele Vance" and me["surname"] == "Vance", "graph /v1.0/me")
    check(c.json("GET", "/v1.0/me")[0] == 401, "graph no token -> 401")

    # ---- v1 endpoints and multi-tenant paths
    st, h, p, ver, _ = login(c, v="", scope="openid", extra={"resource": "00000003-0000-0000-c000-000000000000"})
    st, _, t1 = redeem(c, p["code"], ver, v="")
    _, c1, _ = jwt_parts(t1["id_token"])
    check(st == 200 and c1["ver"] == "1.0" and c1["iss"] == "https://sts.windows.net/%s/" % TID
          and c1["upn"] and c1["unique_name"] and verify_rs256(t1["id_token"], jwks_keys(c, "/common/discovery/keys")),
          "v1 flow")
    for tenant, tid in (("common", TID), ("organizations", TID), ("consumers", "9188040d-6c67-4c5b-b112-36a304b66dad")):
        st, h, p, ver, _ = login(c, tenant=tenant)
        st, _, tt = redeem(c, p["code"], ver, tenant=tenant)
        _, cc, _ = jwt_parts(tt["id_token"])
        check(st == 200 and cc["tid"] == tid and cc["iss"] == "%s/%s/v2.0" % (base, tid), "flow via " + tenant)

    # ---- response modes
    st, h, p, ver, body = login(c, mode="form_post")
    check(st == 200 and b'action="%s"' % REDIRECT.encode() in body and b'name="code"' in body
          and b'name="session_state"' in body and b"submit()" in body, "form_post page")
    st, h, _, _, _ = login(c, mode="fragment")
    frag = parse_qs(urlsplit(h.get("location", "")).fragment)
    check(st == 302 and "code" in frag and "state" in frag, "fragment mode")
    st, h, _, _, _ = login(c, mode="query", pkce=False, extra={"redirect_uri": REDIRECT + "?x=1"})
    check(st == 302 and h["location"].startswith(REDIRECT + "?x=1&code="), "redirect_uri with query")

    # ---- authorize errors
    st, h, _, _, body = login(c, extra={"client_id": "00000000-1111-2222-3333-444444444444"})
    check(st == 400 and h["content-type"].startswith("text/html") and b"AADSTS700016" in body, "unknown client -> HTML 400")
    q = "client_id=%s&response_type=code&scope=openid" % CID
    st, h, body = c.req("GET", "/%s/oauth2/v2.0/authorize?%s" % (TID, q))
    check(st == 400 and b"AADSTS900144" in body, "missing redirect_uri -> HTML 400")
    c.json("POST", "/_mock/config", {"authorize_error": {"error": "access_denied",
           "error_description": "AADSTS65004: User declined to consent to access the app."}})
    st, h, p, _, _ = login(c)
    check(st == 302 and p.get("error") == "access_denied" and "code" not in p and p.get("state") == p["_q"]["state"]
          and p["error_description"].startswith("AADSTS65004: User declined")
          and "\r\nTrace ID: " in p["error_description"] and "\r\nCorrelation ID: " in p["error_description"]
          and "\r\nTimestamp: " in p["error_description"] and "trace_id" not in p, "authorize_error")
    c.json("POST", "/_mock/reset")

    # ---- token_error
    c.json("POST", "/_mock/config", {"token_error": {"error": "invalid_grant", "code": 70043, "status": 400}})
    st, h, p, ver, _ = login(c)
    st, _, d = redeem(c, p["code"], ver)
    check(entra_error_ok(st, d, 400, "invalid_grant", 70043), "token_error switch")
    c.json("POST", "/_mock/config", {"token_error": None})
    st, _, d = redeem(c, p["code"], ver)
    check(st == 200, "token_error cleared")

    # ---- user overrides
    c.json("POST", "/_mock/config", {"user": {"groups": None, "department": "R&D", "roles": ["X"]}})
    st, h, p, ver, _ = login(c)
    cu = jwt_parts(redeem(c, p["code"], ver)[2]["id_token"])[1]
    check("groups" not in cu and cu["department"] == "R&D" and cu["roles"] == ["X"], "user overrides")
    c.json("POST", "/_mock/config", {"user": {"tid": "72f988bf-86f1-41af-91ab-2d7cd011db47"}})
    st, h, p, ver, _ = login(c, tenant="common")
    cu = jwt_parts(redeem(c, p["code"], ver, tenant="common")[2]["id_token"])[1]
    check(cu["tid"] == "72f988bf-86f1-41af-91ab-2d7cd011db47" and cu["iss"] == base + "/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
          "user from another tenant (iss follows tid)")
    c.json("POST", "/_mock/reset")
    st, _, d = c.json("POST", "/_mock/config", {"fail": {"tokn": 500}})
    check(st == 400 and "unknown endpoint" in d["error"], "config rejects typos")

    # ---- bad tokens
    for kind in ("wrong_aud", "wrong_iss", "wrong_nonce", "no_nonce", "expired", "not_yet_valid",
                 "bad_signature", "alg_none", "hs256_pubkey", "unknown_kid", "wrong_tid"):
        c.json("POST", "/_mock/config", {"bad_token": kind})
        st, h, p, ver, _ = login(c)
        st, _, t = redeem(c, p["code"], ver)
        idt = t["id_token"]
        hd, cb, sig = jwt_parts(idt)
        now = time.time()
        ok = {
            "wrong_aud": lambda: cb["aud"] != CID and verify_rs256(idt, keys),
            "wrong_iss": lambda: cb["iss"] != "%s/%s/v2.0" % (base, TID) and cb["tid"] == TID and verify_rs256(idt, keys),
            "wrong_nonce": lambda: cb["nonce"] != p["_q"]["nonce"] and verify_rs256(idt, keys),
            "no_nonce": lambda: "nonce" not in cb and verify_rs256(idt, keys),
            "expired": lambda: cb["exp"] < now - 600 and verify_rs256(idt, keys),
            "not_yet_valid": lambda: cb["nbf"] > now + 600 and verify_rs256(idt, keys),
            "bad_signature": lambda: hd["kid"] in keys and not verify_rs256(idt, keys) and cb["aud"] == CID,
            "alg_none": lambda: hd["alg"] == "none" and idt.endswith(".") and sig == b"",
            "hs256_pubkey": lambda: hd["alg"] == "HS256" and sig == hmac.new(
                pub_pem(keys[hd["kid"]]), idt.rsplit(".", 1)[0].encode(), hashlib.sha256).digest(),
            "unknown_kid": lambda: hd["kid"] not in keys and hd["alg"] == "RS256",
            "wrong_tid": lambda: cb["tid"] not in (TID,) and cb["iss"] == "%s/%s/v2.0" % (base, TID) and verify_rs256(idt, keys),
        }[kind]()
        check(st == 200 and ok, "bad_token " + kind)
    # access tokens stay good under bad_token
    check(c.json("GET", "/v1.0/me", headers={"Authorization": "Bearer " + t["access_token"]})[0] == 200,
          "access token unaffected by bad_token")
    c.json("POST", "/_mock/reset")

    # ---- fail / slow / malformed / drop on every endpoint
    calls = {
        "discovery": lambda: c.req("GET", "/%s/v2.0/.well-known/openid-configuration" % TID),
        "jwks": lambda: c.req("GET", "/%s/discovery/v2.0/keys" % TID),
        "authorize": lambda: c.req("GET", "/%s/oauth2/v2.0/authorize?client_id=%s&redirect_uri=%s&response_type=code&scope=openid"
                                   % (TID, CID, quote(REDIRECT, safe=""))),
        "token": lambda: c.req("POST", "/%s/oauth2/v2.0/token" % TID, "grant_type=x",
                               {"Content-Type": "application/x-www-form-urlencoded"}),
        "userinfo": lambda: c.req("GET", "/oidc/userinfo", headers=at),
        "graph": lambda: c.req("GET", "/v1.0/me", headers=at),
        "logout": lambda: c.req("GET", "/%s/oauth2/v2.0/logout" % TID),
        "graph_groups": lambda: c.req("POST", "/v1.0/me/getMemberObjects", '{"securityEnabledOnly":false}',
                                      dict(at, **{"Content-Type": "application/json"})),
        "graph_next": lambda: c.req("GET", "/v1.0/me/transitiveMemberOf?$select=id&$skiptoken="
                                    + b64u(b'{"k":"tm","o":0}'), headers=at),
    }
    for ep, call in calls.items():
        c.json("POST", "/_mock/config", {"fail": {ep: 503}})
        check(call()[0] == 503, "fail %s" % ep)
        c.json("POST", "/_mock/config", {"fail": {ep: None}, "malformed": {ep: True}})
        st, _, body = call()
        try:
            json.loads(body)
            broken = False
        except ValueError:
            broken = True
        check(st == 200 and broken, "malformed %s" % ep)
        c.json("POST", "/_mock/config", {"malformed": {ep: None}, "slow": {ep: 1.0}})
        t0 = time.time()
        st = call()[0]
        check(st in (200, 302, 400) and time.time() - t0 >= 1.0, "slow %s" % ep)
        c.json("POST", "/_mock/config", {"slow": {ep: None}, "drop": {ep: True}})
        try:
            call()
            dropped = False
        except (http.client.RemoteDisconnected, ConnectionError):
            dropped = True
        check(dropped, "drop %s" % ep)
        c.json("POST", "/_mock/reset")
    c.json("POST", "/_mock/config", {"fail": {"token": 400}})
    st, _, d = c.json("POST", "/%s/oauth2/v2.0/token" % TID, "")
    check(st == 400 and "AADSTS" in d["error_description"], "fail 400 token is Entra-shaped")
    c.json("POST", "/_mock/reset")

    # ---- logout
    bye = "/%s/oauth2/v2.0/logout?post_logout_redirect_uri=%s&state=abc" % (TID, quote("http://localhost:8529/bye", safe=""))
    st, h, body = c.req("GET", bye)
    check(st == 200 and "location" not in h and b"You signed out" in body,
          "logout to an unregistered post_logout_redirect_uri: Entra's page, no redirect")
    c.json("POST", "/_mock/config", {"extra_redirect_uris": ["http://localhost:8529/bye"]})
    st, h, _ = c.req("GET", bye)
    check(st == 302 and h["location"] == "http://localhost:8529/bye?state=abc", "logout redirect (registered)")
    c.json("POST", "/_mock/config", {"extra_redirect_uris": None})
    check(c.req("GET", "/%s/oauth2/logout" % TID)[0] == 200, "v1 logout 200")

    # ---- stats and reset
    _, _, s = c.json("GET", "/_mock/stats")
    check(s["requests"]["logout"] == 3 and s["requests"]["authorize"] == 0
          and s["last"]["logout"] == {"_redirected": False}, "stats counts")

    # ---- key rotation
    old = c.json("GET", "/_mock/info")[2]["kid"]
    _, _, r = c.json("POST", "/_mock/rotate_keys", {"keep_old": True})
    k2 = jwks_keys(c)
    check(r["kid"] != old and set(k2) == {old, r["kid"]}, "rotate keep_old")
    st, h, p, ver, _ = login(c)
    t = redeem(c, p["code"], ver)[2]
    check(jwt_parts(t["id_token"])[0]["kid"] == r["kid"] and verify_rs256(t["id_token"], k2), "new key signs")
    _, _, r2 = c.json("POST", "/_mock/rotate_keys", {})
    check(list(jwks_keys(c)) == [r2["kid"]], "rotate without keep_old")
    c.json("POST", "/_mock/reset")
    check(c.json("GET", "/_mock/info")[2]["kid"] == r2["kid"], "reset keeps keys")

    # ---- echo backend
    st, h, e = echo.json("PATCH", "/some/path?a=1&b=%20x", "héllo".encode(),
                         {"X-Entra-Claim-Name": "v1", "X-Custom": "a"})
    check(st == 200 and e["method"] == "PATCH" and e["path"] == "/some/path" and e["query"] == "a=1&b=%20x"
          and e["headers"]["X-Entra-Claim-Name"] == "v1" and e["body"] == "héllo", "echo backend")
    s = socket.create_connection(("127.0.0.1", echo.port))
    s.sendall(b"PROPFIND /x HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nx-dup: 2\r\nTransfer-Encoding: chunked\r\n"
              b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    data = recv_all(s)
    e = json.loads(data.split(b"\r\n\r\n", 1)[1])
    check(e["method"] == "PROPFIND" and e["headers"]["X-Dup"] == ["1", "2"] and e["body"] == "abc",
          "echo: any method, repeated headers, chunked body")
    st, h, _ = echo.req("HEAD", "/")
    check(st == 200, "echo HEAD")

    # ---- bad input never kills it
    for raw in (b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                b"POST /x/oauth2/v2.0/token HTTP/1.1\r\nContent-Length: zz\r\n\r\n",
                b"POST /_mock/config HTTP/1.1\r\nContent-Length: 5\r\n\r\n{oops",
                b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"GET /%ff%fe/v2.0/.well-known/openid-configuration HTTP/1.1\r\n\r\n",
                b"POST /%s/oauth2/v2.0/token HTTP/1.1\r\nAuthorization: Basic !!!\r\nContent-Length: 0\r\n\r\n" % TID.encode(),
                b"POST /%s/oauth2/v2.0/token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 30\r\n\r\ngrant_type=%%%%&code=%%ff%%00" % TID.encode(),
                b"GET /_mock/config HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", c.port))
        s.settimeout(5)
        s.sendall(raw)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        data = recv_all(s)
        check(data.startswith(b"HTTP/1.") or b"Bad request" in data, "answers garbage %r" % raw[:40])
    check(c.json("GET", "/_mock/info")[0] == 200, "alive after garbage")
    st, _, d = c.json("POST", "/_mock/config", "[1,2]")
    check(st == 400, "config: non-object rejected")

    # ---- concurrency: many full flows at once
    errors = []

    def flow():
        try:
            st, h, p, ver, _ = login(c)
            st, _, t = redeem(c, p["code"], ver)
            if st != 200 or not verify_rs256(t["id_token"], keys2):
                errors.append(st)
        except Exception as e:      # noqa
            errors.append(repr(e))
    keys2 = jwks_keys(c)
    c.json("POST", "/_mock/config", {"slow": {"jwks": 2}})
    slow = threading.Thread(target=lambda: c.req("GET", "/%s/discovery/v2.0/keys" % TID))
    slow.start()
    ths = [threading.Thread(target=flow) for _ in range(40)]
    t0 = time.time()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    check(not errors, "40 concurrent flows (%s) in %.1fs" % (errors[:3], time.time() - t0))
    slow.join()
    c.json("POST", "/_mock/reset")


# --------------------------------------------------------------------------
# Issue 3: tenants, clouds, v1, client credentials, Graph, overage, profile


def sign_in(c, tenant=TID, v="v2.0/", scope="openid profile email offline_access", extra=None):
    """authorize + redeem with the secret -> token response (or None)."""
    st, h, p, ver, _ = login(c, tenant=tenant, v=v, scope=scope, extra=extra)
    if "code" not in p:
        return None
    st, _, tok = redeem(c, p["code"], ver, tenant=tenant, v=v)
    return tok if st == 200 else None


def make_key_cert(days=30):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "selftest")])
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    return key, cert


def assertion(key, der, aud, alg="RS256", hdr=None, claims=None, salt=32):
    """A client assertion as a module would build it; None values in hdr/claims delete."""
    h = {"typ": "JWT", "alg": alg}
    if alg == "PS256":
        h["x5t#S256"] = b64u(hashlib.sha256(der).digest())
    else:
        h["x5t"] = b64u(hashlib.sha1(der).digest())
    now = int(time.time())
    cl = {"aud": aud, "iss": CID, "sub": CID, "jti": str(uuid.uuid4()), "nbf": now, "iat": now,
          "exp": now + 600}
    for d, upd in ((h, hdr), (cl, claims)):
        for k, v in (upd or {}).items():
            if v is None:
                d.pop(k, None)
            else:
                d[k] = v
    si = b64u(json.dumps(h).encode()) + "." + b64u(json.dumps(cl).encode())
    if alg == "PS256":
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt)
    else:
        pad = padding.PKCS1v15()
    if alg in ("RS256", "PS256"):
        sig = key.sign(si.encode(), pad, hashes.SHA256())
    else:
        sig = hmac.new(b"k", si.encode(), hashlib.sha256).digest()
    return si + "." + b64u(sig)


def redeem_assertion(c, code, ver, jwt, tenant=TID, v="v2.0/", cid=CID, atype=JWT_BEARER):
    f = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
         "code_verifier": ver, "client_assertion": jwt}
    if atype:
        f["client_assertion_type"] = atype
    if cid:
        f["client_id"] = cid
    return c.form("/%s/oauth2/%stoken" % (tenant, v), f)


def multi_tenant(c, base, port):
    tmpl = base + "/{tenantid}/v2.0"
    msa_iss = "%s/%s/v2.0" % (base, MSA_TID)
    info = c.json("GET", "/_mock/info")[2]
    common = c.json("GET", "/common/discovery/v2.0/keys")[2]["keys"]
    check({k["kid"]: k["issuer"] for k in common} == {info["kid"]: tmpl, info["msa_kid"]: msa_iss}
          and all(k["cloud_instance_name"] == "microsoftonline.com" for k in common),
          "common JWKS: Entra key (issuer template) + Microsoft-account key (consumers issuer)")
    orgs = c.json("GET", "/organizations/discovery/v2.0/keys")[2]["keys"]
    check(len(orgs) == 2 and {k["issuer"] for k in orgs} == {tmpl, msa_iss}, "organizations JWKS")
    cons = c.json("GET", "/consumers/discovery/v2.0/keys")[2]["keys"]
    check([(k["kid"], k["issuer"]) for k in cons] == [(info["msa_kid"], msa_iss)],
          "consumers JWKS: only the Microsoft-account key")
    cert = x509.load_der_x509_certificate(base64.b64decode(cons[0]["x5c"][0]))
    check("Live ID STS" in cert.subject.rfc4514_string(), "Microsoft-account key cert CN")
    ten = c.json("GET", "/%s/discovery/v2.0/keys" % TID)[2]["keys"]
    check([(k["kid"], k["issuer"]) for k in ten] == [(info["kid"], "%s/%s/v2.0" % (base, TID))],
          "tenant JWKS: only Entra's key, issuer with the tid")

    # personal account via consumers and via common
    for tenant in ("consumers", "common"):
        if tenant == "common":
            c.json("POST", "/_mock/config", {"user": {"tid": MSA_TID}})
        tok = sign_in(c, tenant=tenant)
        hd, cl, _ = jwt_parts(tok["id_token"])
        check(cl["tid"] == MSA_TID and cl["iss"] == msa_iss and hd["kid"] == info["msa_kid"]
              and verify_rs256(tok["id_token"], jwks_keys(c, "/%s/discovery/v2.0/keys" % tenant))
              and "roles" not in cl and "groups" not in cl and cl["ver"] == "2.0",
              "personal account via %s: MSA key, consumers iss, no roles/groups" % tenant)
        at = tok["access_token"]
        check(at.startswith("EwB") and "." not in at, "personal account: opaque access token")
        st, _, me = c.json("GET", "/v1.0/me", headers={"Authorization": "Bearer " + at})
        check(st == 200 and me["id"] == cl["oid"], "personal account: Graph accepts the opaque token")
    c.json("POST", "/_mock/reset")
    c.json("POST", "/_mock/config", {"user": {"roles": ["Reader"]}})
    cl = jwt_parts(sign_in(c, tenant="consumers")["id_token"])[1]
    check(cl["roles"] == ["Reader"] and "groups" not in cl, "personal account: explicit roles kept")

    # another work tenant through organizations: iss follows tid, Entra key
    other = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    c.json("POST", "/_mock/config", {"user": {"tid": other}})
    tok = sign_in(c, tenant="organizations")
    hd, cl, _ = jwt_parts(tok["id_token"])
    ks = jwks_keys(c, "/organizations/discovery/v2.0/keys")
    check(cl["iss"] == "%s/%s/v2.0" % (base, other) and hd["kid"] == info["kid"]
          and ks[hd["kid"]]["issuer"].replace("{tenantid}", cl["tid"]) == cl["iss"]
          and verify_rs256(tok["id_token"], ks), "work account of another tenant via organizations")

    # key_issuer
    c.json("POST", "/_mock/config", {"key_issuer": "https://login.example/evil/v2.0"})
    for path in ("/common/discovery/v2.0/keys", "/%s/discovery/v2.0/keys" % TID, "/common/discovery/keys",
                 "/consumers/discovery/v2.0/keys"):
        ks = c.json("GET", path)[2]["keys"]
        check(ks and all(k["issuer"] == "https://login.example/evil/v2.0" for k in ks), "key_issuer " + path)
    c.json("POST", "/_mock/config", {"key_issuer": False})
    check(all("issuer" not in k for k in c.json("GET", "/common/discovery/v2.0/keys")[2]["keys"]),
          "key_issuer false: no issuer property")
    c.json("POST", "/_mock/config", {"key_issuer": None})
    check(c.json("GET", "/common/discovery/v2.0/keys")[2]["keys"][0]["issuer"] == tmpl, "key_issuer null restores")
    check(c.json("POST", "/_mock/config", {"key_issuer": 5})[0] == 400, "key_issuer: bad type rejected")

    # rotation also rolls the Microsoft-account key
    _, _, r = c.json("POST", "/_mock/rotate_keys", {"keep_old": False})
    check(r["kids"] == [r["kid"]] and r["msa_kids"] == [r["msa_kid"]] and r["msa_kid"] != info["msa_kid"]
          and [k["kid"] for k in c.json("GET", "/consumers/discovery/v2.0/keys")[2]["keys"]] == [r["msa_kid"]],
          "rotate_keys rolls both key sets")


def v1_endpoints(c, base, port):
    ks = jwks_keys(c, "/common/discovery/keys")
    st, _, d = c.json("GET", "/common/.well-known/openid-configuration")
    check(d["issuer"] == "https://sts.windows.net/{tenantid}/" and d["authorization_endpoint"] ==
          base + "/common/oauth2/authorize" and d["token_endpoint"] == base + "/common/oauth2/token"
          and d["userinfo_endpoint"] == "%s/%s/openid/userinfo" % (base, TID)
          and d["end_session_endpoint"] == base + "/common/oauth2/logout", "v1 common discovery")
    t0 = int(time.time())
    st, h, p, ver, _ = login(c, v="", scope="openid", pkce=False, extra={"resource": "https://graph.microsoft.com"})
    st, _, t1 = redeem(c, p["code"], ver, v="")
    hd, cl, _ = jwt_parts(t1["id_token"])
    check(st == 200 and t1["expires_in"] == "3599" and t1["ext_expires_in"] == "3599"
          and abs(int(t1["expires_on"]) - (t0 + 3599)) <= 3 and t1["not_before"].isdigit()
          and t1["resource"] == "https://graph.microsoft.com" and t1["refresh_token"]
          and t1["token_type"] == "Bearer" and t1["scope"] == "User.Read",
          "v1 token response: numbers as strings, resource, refresh token")
    check(cl["ver"] == "1.0" and cl["iss"] == "https://sts.windows.net/%s/" % TID and cl["aud"] == CID
          and cl["upn"] == cl["unique_name"] == "adele@contoso.test" and "preferred_username" not in cl
          and "email" not in cl and cl["given_name"] == "Adele" and cl["family_name"] == "Vance"
          and cl["amr"] == ["pwd"] and cl["nonce"] == p["_q"]["nonce"] and cl["roles"] and cl["groups"]
          and verify_rs256(t1["id_token"], ks), "v1 ID token claims")
    ah, acl, _ = jwt_parts(t1["access_token"])
    check("nonce" in ah and acl["aud"] == "https://graph.microsoft.com" and acl["scp"] == "User.Read"
          and acl["iss"] == "https://sts.windows.net/%s/" % TID, "v1 access token for the resource")
    at = {"Authorization": "Bearer " + t1["access_token"]}
    st, _, u = c.json("GET", "/%s/openid/userinfo" % TID, headers=at)
    check(st == 200 and u["upn"] == u["unique_name"] == "adele@contoso.test" and u["sub"] == cl["sub"]
          and u["oid"] == cl["oid"] and u["tid"] == TID and u["amr"] == '["pwd"]' and "email" not in u,
          "v1 userinfo")
    check(c.json("GET", "/v1.0/me", headers=at)[0] == 200, "v1 Graph token works on Graph")

    # explicit optional claims, resource and scope at the token endpoint
    c.json("POST", "/_mock/config", {"user": {"email": "adele@contoso.test", "upn": "adele.upn@contoso.test",
                                              "preferred_username": "adele@contoso.test"}})
    st, h, p, ver, _ = login(c, v="", scope="", pkce=False)
    st, _, t2 = c.form("/%s/oauth2/token" % TID, {"grant_type": "authorization_code", "code": p["code"],
                                                 "redirect_uri": REDIRECT, "client_id": CID, "client_secret": SECRET,
                                                 "resource": "api://contoso-api", "scope": "openid"})
    cl = jwt_parts(t2["id_token"])[1]
    check(st == 200 and t2["resource"] == "api://contoso-api" and cl["email"] == "adele@contoso.test"
          and cl["upn"] == "adele.upn@contoso.test" and cl["preferred_username"] == "adele@contoso.test"
          and verify_rs256(t2["id_token"], ks), "v1 token endpoint takes resource and scope; explicit claims")
    acl = jwt_parts(t2["access_token"])[1]
    check(acl["aud"] == "api://contoso-api" and acl["scp"] == "user_impersonation", "v1 access token for an API")
    st, _, g = c.json("GET", "/v1.0/me", headers={"Authorization": "Bearer " + t2["access_token"]})
    check(st == 401 and g["error"]["code"] == "InvalidAuthenticationToken" and "audience" in g["error"]["message"],
          "Graph refuses a token for another resource")
    st, _, u = c.json("GET", "/%s/openid/userinfo" % TID, headers={"Authorization": "Bearer " + t2["access_token"]})
    check(st == 200 and u["email"] == "adele@contoso.test" and u["upn"] == "adele.upn@contoso.test",
          "v1 userinfo: explicit email")
    st, _, t3 = c.form("/%s/oauth2/token" % TID, {"grant_type": "refresh_token", "refresh_token": t2["refresh_token"],
                                                 "client_id": CID, "client_secret": SECRET, "resource": GRAPH})
    check(st == 200 and t3["resource"] == GRAPH and jwt_parts(t3["access_token"])[1]["aud"] == GRAPH,
          "v1 refresh for another resource")
    c.json("POST", "/_mock/reset")

    # v1 without openid: the id_token is unsigned
    st, h, p, ver, _ = login(c, v="", scope="", pkce=False)
    st, _, t4 = redeem(c, p["code"], ver, v="")
    hd, cl, sig = jwt_parts(t4["id_token"])
    check(st == 200 and hd["alg"] == "none" and sig == b"" and cl["ver"] == "1.0", "v1 without openid: unsigned id_token")

    # resource on v2 is refused
    st, h, p, ver, _ = login(c)
    f = {"grant_type": "authorization_code", "code": p["code"], "redirect_uri": REDIRECT, "code_verifier": ver,
         "client_id": CID, "client_secret": SECRET, "resource": GRAPH}
    st, _, d = c.form("/%s/oauth2/v2.0/token" % TID, f)
    check(entra_error_ok(st, d, 400, "invalid_request", 901002), "v2 token: resource -> 901002")
    st, h, p, _, _ = login(c, extra={"resource": GRAPH})
    check(st == 302 and p.get("error") == "invalid_request" and p["error_description"].startswith("AADSTS901002:"),
          "v2 authorize: resource -> 901002")


def clouds(c, base, port):
    for cloud, cin, cgh, sts in (("usgov", "microsoftonline.us", "graph.windows.net", "https://sts.windows.net"),
                                 ("china", "partner.microsoftonline.cn", "graph.chinacloudapi.cn",
                                  "https://sts.chinacloudapi.cn"),
                                 ("global", "microsoftonline.com", "graph.windows.net", "https://sts.windows.net")):
        st, _, cfg = c.json("POST", "/_mock/config", {"cloud": cloud})
        d2 = c.json("GET", "/%s/v2.0/.well-known/openid-configuration" % TID)[2]
        d1 = c.json("GET", "/%s/.well-known/openid-configuration" % TID)[2]
        keys = c.json("GET", "/common/discovery/v2.0/keys")[2]["keys"]
        check(st == 200 and cfg["cloud"] == cloud and d2["cloud_instance_name"] == d1["cloud_instance_name"] == cin
              and d2["cloud_graph_host_name"] == cgh and d2["msgraph_host"] == d1["msgraph_host"] == "127.0.0.1:%d" % port
              and d2["issuer"] == "%s/%s/v2.0" % (base, TID) and d1["issuer"] == "%s/%s/" % (sts, TID)
              and all(k["cloud_instance_name"] == cin for k in keys), "cloud %s: discovery and keys" % cloud)
        tok = sign_in(c, v="", scope="openid", extra={"resource": GRAPH})
        check(jwt_parts(tok["id_token"])[1]["iss"] == "%s/%s/" % (sts, TID)
              and jwt_parts(tok["access_token"])[1]["iss"] == "%s/%s/" % (sts, TID), "cloud %s: v1 issuer" % cloud)
    c.json("POST", "/_mock/config", {"cloud": "china"})
    c.json("POST", "/_mock/reset")
    check(c.json("GET", "/_mock/config")[2]["cloud"] == "global", "reset: cloud global")
    check(c.json("POST", "/_mock/config", {"cloud": "germany"})[0] == 400, "cloud: unknown rejected")


def certificates(c, base, port):
    key, cert = make_key_cert()
    der = cert.public_bytes(serialization.Encoding.DER)
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    st, _, cfg = c.json("POST", "/_mock/config", {"client_certificate": pem})
    check(st == 200 and cfg["client_certificate"][0]["x5t"] == b64u(hashlib.sha1(der).digest())
          and cfg["client_certificate"][0]["x5t#S256"] == b64u(hashlib.sha256(der).digest()), "register certificate")
    check(c.json("POST", "/_mock/config", {"client_certificate": "not a cert"})[0] == 400, "bad PEM rejected")
    aud = "%s/%s/oauth2/v2.0/token" % (base, TID)
    st, h, p, ver, _ = login(c)
    code = p["code"]
    bad = [
        ("kid only (no x5t)", assertion(key, der, aud, hdr={"x5t": None, "kid": b64u(hashlib.sha1(der).digest())}),
         401, "invalid_client", 700027),
        ("PS256 with x5t only", assertion(key, der, aud, alg="PS256",
                                          hdr={"x5t#S256": None, "x5t": b64u(hashlib.sha1(der).digest())}),
         401, "invalid_client", 700027),
        ("unregistered thumbprint", assertion(key, der, aud, hdr={"x5t": b64u(b"\x01" * 20)}), 401, "invalid_client", 700027),
        ("wrong key", assertion(make_key_cert()[0], der, aud), 401, "invalid_client", 700027),
        ("PS256 with max salt", assertion(key, der, aud, alg="PS256", salt=padding.PSS.MAX_LENGTH),
         401, "invalid_client", 700027),
        ("aud = v1 endpoint", assertion(key, der, "%s/%s/oauth2/token" % (base, TID)), 401, "invalid_client", 700023),
        ("aud = issuer", assertion(key, der, "%s/%s/v2.0" % (base, TID)), 401, "invalid_client", 700023),
        ("aud as a list", assertion(key, der, [aud]), 401, "invalid_client", 700023),
        ("expired", assertion(key, der, aud, claims={"exp": int(time.time()) - 10}), 401, "invalid_client", 700024),
        ("exp an hour out", assertion(key, der, aud, claims={"exp": int(time.time()) + 3600}), 401, "invalid_client", 700024),
        ("nbf in the future", assertion(key, der, aud, claims={"nbf": int(time.time()) + 900}), 401, "invalid_client", 700024),
        ("no exp", assertion(key, der, aud, claims={"exp": None}), 401, "invalid_client", 700024),
        ("no jti", assertion(key, der, aud, claims={"jti": None}), 401, "invalid_client", 50027),
        ("iss another app", assertion(key, der, aud, claims={"iss": "3c1e5a7b-2d4f-4a6e-8b0c-9d1e2f3a4b5c"}),
         401, "invalid_client", 700021),
        ("sub differs", assertion(key, der, aud, claims={"sub": "someone"}), 401, "invalid_client", 700021),
        ("HS256", assertion(key, der, aud, alg="HS256"), 401, "invalid_client", 5002730),
        ("not a JWT", "abc.def", 401, "invalid_client", 50027),
    ]
    for what, jwt, status, err, code_ in bad:
        st, _, d = redeem_assertion(c, code, ver, jwt)
        check(entra_error_ok(st, d, status, err, code_), "assertion %s -> %d" % (what, code_))
    st, _, d = redeem_assertion(c, code, ver, assertion(key, der, aud), atype="urn:x")
    check(entra_error_ok(st, d, 400, "invalid_request", 90011), "wrong client_assertion_type")
    st, _, d = redeem_assertion(c, code, ver, assertion(key, der, aud), atype=None)
    check(entra_error_ok(st, d, 400, "invalid_request", 900144), "missing client_assertion_type")
    st, _, d = redeem_assertion(c, code, ver, assertion(key, der, aud), cid="00000000-1111-2222-3333-444444444444")
    check(entra_error_ok(st, d, 400, "unauthorized_client", 700016), "unknown client_id with assertion")
    st, _, d = redeem_assertion(c, code, ver, assertion(key, der, aud, claims={
        "iss": "00000000-1111-2222-3333-444444444444", "sub": "00000000-1111-2222-3333-444444444444"}), cid=None)
    check(entra_error_ok(st, d, 400, "unauthorized_client", 700016), "unknown app in assertion")
    # the one that works: RS256 + x5t, no client_id (the app comes from iss)
    good = assertion(key, der, aud)
    st, _, tok = redeem_assertion(c, code, ver, good, cid=None)
    check(st == 200 and tok.get("id_token"), "RS256 + x5t assertion accepted")
    last = c.json("GET", "/_mock/stats")[2]["last"]["token"]
    ca = last["client_assertion"]
    check(last["auth_method"] == "private_key_jwt" and ca["header"]["x5t"] == b64u(hashlib.sha1(der).digest())
          and ca["claims"]["aud"] == aud and ca["claims"]["iss"] == CID and last["client_assertion_jwt"] == good,
          "stats: private_key_jwt, decoded assertion")
    st, _, d = c.form("/%s/oauth2/v2.0/token" % TID, {"grant_type": "refresh_token", "refresh_token": tok["refresh_token"],
                                                     "client_id": CID, "client_assertion_type": JWT_BEARER,
                                                     "client_assertion": good})
    check(entra_error_ok(st, d, 401, "invalid_client", 50027), "assertion replay (same jti) refused")
    st, _, t2 = c.form("/%s/oauth2/v2.0/token" % TID, {"grant_type": "refresh_token", "refresh_token": tok["refresh_token"],
                                                      "client_id": CID, "client_assertion_type": JWT_BEARER,
                                                      "client_assertion": assertion(key, der, aud, alg="PS256")})
    check(st == 200 and t2.get("refresh_token"), "PS256 + x5t#S256 assertion accepted (refresh grant)")
    check(c.json("GET", "/_mock/stats")[2]["last"]["token"]["client_assertion"]["header"]["alg"] == "PS256",
          "stats: PS256 header recorded")
    # v1 token endpoint: aud is the v1 URL; RS256 with x5t#S256 too
    st, h, p, ver, _ = login(c, v="", scope="openid", pkce=False)
    st, _, d = redeem_assertion(c, p["code"], ver, assertion(key, der, aud), v="")
    check(entra_error_ok(st, d, 401, "invalid_client", 700023), "v1 endpoint: aud must be the v1 URL")
    st, _, d = redeem_assertion(c, p["code"], ver, assertion(key, der, "%s/%s/oauth2/token" % (base, TID),
                                                             hdr={"x5t#S256": b64u(hashlib.sha256(der).digest()),
                                                                  "x5t": None}), v="")
    check(st == 200, "v1 endpoint assertion (RS256 + x5t#S256)")
    # a certificate the mock makes, and an expired one
    st, _, made = c.json("POST", "/_mock/client_certificate", {})
    mkey = serialization.load_pem_private_key(made["private_key"].encode(), None)
    mder = x509.load_pem_x509_certificate(made["certificate"].encode()).public_bytes(serialization.Encoding.DER)
    st, h, p, ver, _ = login(c)
    st, _, d = redeem_assertion(c, p["code"], ver, assertion(mkey, mder, aud))
    check(made["registered"] and made["x5t"] == b64u(hashlib.sha1(mder).digest()) and st == 200,
          "/_mock/client_certificate: made, registered, usable")
    check(len(c.json("GET", "/_mock/config")[2]["client_certificate"]) == 2, "two certificates registered")
    _, _, old = c.json("POST", "/_mock/client_certificate", {"days": -1})
    okey = serialization.load_pem_private_key(old["private_key"].encode(), None)
    oder = x509.load_pem_x509_certificate(old["certificate"].encode()).public_bytes(serialization.Encoding.DER)
    st, h, p, ver, _ = login(c)
    st, _, d = redeem_assertion(c, p["code"], ver, assertion(okey, oder, aud))
    check(entra_error_ok(st, d, 401, "invalid_client", 700027) and "expired" in d["error_description"],
          "expired certificate -> 700027")
    c.json("POST", "/_mock/config", {"client_certificate": None})
    st, _, d = redeem_assertion(c, p["code"], ver, assertion(key, der, aud))
    check(entra_error_ok(st, d, 401, "invalid_client", 700027), "certificate unregistered -> 700027")
    st, _, d = redeem(c, p["code"], ver)
    check(st == 200, "secret still works alongside")


def federated(c, base, port):
    iss, sub = "https://oidc.prod-aks.azure.com/1b2c3d4e/", "system:serviceaccount:web:apache"
    st, _, d = c.json("GET", "/_mock/federated_token")
    check(st == 400, "federated_token without a registered issuer -> 400")
    st, h, p, ver, _ = login(c)
    code = p["code"]
    st, _, d = c.json("GET", "/_mock/federated_token?iss=%s&sub=x" % quote(iss, safe=""))
    st, _, d = redeem_assertion(c, code, ver, c.req("GET", "/_mock/federated_token?iss=%s" % quote(iss, safe=""))[2].decode())
    check(entra_error_ok(st, d, 401, "invalid_client", 70021), "no federated credential -> 70021")
    st, _, cfg = c.json("POST", "/_mock/config", {"federated_issuer": iss, "federated_subject": sub})
    check(st == 200 and cfg["federated_audience"] == "api://AzureADTokenExchange", "register federated credential")
    st, hh, raw = c.req("GET", "/_mock/federated_token")
    tokj = raw.decode()
    hd, cl, _ = jwt_parts(tokj)
    check(st == 200 and hh["content-type"].startswith("text/plain") and hd["alg"] == "RS256"
          and cl["iss"] == iss and cl["sub"] == sub and cl["aud"] == ["api://AzureADTokenExchange"]
          and cl["exp"] > time.time() + 3000 and cl["kubernetes.io"]["namespace"] == "web",
          "federated_token: a Kubernetes-shaped RS256 JWT from the registered issuer")
    _, _, js = c.json("GET", "/_mock/federated_token?sub=other&exp_in=-60&format=json")
    check(js["claims"]["sub"] == "other" and js["claims"]["exp"] < time.time() and js["token"].count(".") == 2,
          "federated_token: sub, exp_in, format=json")

    def fic(q):
        return c.req("GET", "/_mock/federated_token?" + q)[2].decode()
    for what, jwt, code_ in (
            ("issuer", fic("iss=" + quote("https://token.actions.githubusercontent.com", safe="")), 700211),
            ("subject", fic("sub=system:serviceaccount:web:other"), 700213),
            ("audience", fic("aud=api://something-else"), 700212),
            ("expired", fic("exp_in=-30"), 700024),
            ("not yet valid", fic("nbf_in=900"), 700024)):
        st, _, d = redeem_assertion(c, code, ver, jwt)
        check(entra_error_ok(st, d, 401, "invalid_client", code_), "federated %s -> %d" % (what, code_))
    unsigned = ".".join(tokj.split(".")[:2]) + "."
    st, _, d = redeem_assertion(c, code, ver, b64u(json.dumps({"alg": "none"}).encode()) + "." + tokj.split(".")[1] + ".")
    check(entra_error_ok(st, d, 401, "invalid_client", 50027), "federated alg none -> 50027")
    st, _, d = redeem_assertion(c, code, ver, unsigned)
    check(entra_error_ok(st, d, 401, "invalid_client", 50027), "federated without signature -> 50027")
    st, _, d = redeem_assertion(c, code, ver, tokj, cid=None)
    check(entra_error_ok(st, d, 400, "invalid_request", 900144), "federated without client_id -> 900144")
    # the signature is not checked (documented): a token signed by anyone passes if the claims match
    st, _, tok = redeem_assertion(c, code, ver, tokj)
    last = c.json("GET", "/_mock/stats")[2]["last"]["token"]
    check(st == 200 and tok.get("id_token") and last["auth_method"] == "federated"
          and last["client_assertion"]["claims"]["sub"] == sub and last["client_assertion"]["header"]["alg"] == "RS256",
          "federated assertion accepted; stats auth_method federated")
    st, _, t2 = c.form("/%s/oauth2/v2.0/token" % TID, {"grant_type": "refresh_token", "refresh_token": tok["refresh_token"],
                                                      "client_id": CID, "client_assertion_type": JWT_BEARER,
                                                      "client_assertion": tokj})
    check(st == 200, "federated token reused for a refresh (no jti rule for external tokens)")
    c.json("POST", "/_mock/config", {"federated_audience": "api://custom"})
    st, h, p, ver, _ = login(c)
    st, _, d = redeem_assertion(c, p["code"], ver, fic(""))
    check(st == 200 and jwt_parts(fic(""))[1]["aud"] == ["api://custom"], "custom federated audience")
    c.json("POST", "/_mock/config", {"federated_issuer": None})
    st, h, p, ver, _ = login(c)
    st, _, d = redeem_assertion(c, p["code"], ver, tokj)
    check(entra_error_ok(st, d, 401, "invalid_client", 70021), "federated credential removed -> 70021")


def graph_get(c, path, token, method="GET", body=None):
    hdr = {"Authorization": "Bearer " + token}
    if body is not None:
        hdr["Content-Type"] = "application/json"
    return c.json(method, path, body, hdr)


def follow(c, token, first, method="GET", body=None):
    """All pages of a Graph collection -> (ids, pages, next links)."""
    st, _, d = graph_get(c, first, token, method, body)
    ids, pages, links = [], 0, []
    while st == 200:
        pages += 1
        ids += [v if isinstance(v, str) else v["id"] for v in d["value"]]
        link = d.get("@odata.nextLink")
        if not link:
            return ids, pages, links
        links.append(link)
        u = urlsplit(link)
        st, _, d = graph_get(c, u.path + "?" + u.query, token, method, body)
    return None, pages, links


def graph(c, base, port):
    tok = sign_in(c)
    at = tok["access_token"]
    groups = ["2f6a4c1e-0000-4000-8000-00000000a001", "2f6a4c1e-0000-4000-8000-00000000a002"]
    st, _, d = graph_get(c, "/v1.0/me/getMemberObjects", at, "POST", {"securityEnabledOnly": False})
    check(st == 200 and d["value"] == groups and "@odata.nextLink" not in d
          and d["@odata.context"].endswith("$metadata#Collection(Edm.String)"), "getMemberObjects")
    st, _, d = graph_get(c, "/v1.0/me/transitiveMemberOf?$select=id", at)
    check(st == 200 and d["value"] == [{"@odata.type": "#microsoft.graph.group", "id": g} for g in groups]
          and "@odata.nextLink" not in d, "transitiveMemberOf?$select=id")
    st, _, d = graph_get(c, "/v1.0/me/transitiveMemberOf", at)
    check(st == 200 and d["value"][0]["displayName"] and d["value"][0]["securityEnabled"] is True,
          "transitiveMemberOf without $select: full objects")
    last = c.json("GET", "/_mock/stats")[2]["last"]["graph"]
    check(last["method"] == "GET" and last["path"] == "/v1.0/me/transitiveMemberOf", "stats last.graph")

    # errors
    for what, call, status, code in (
            ("no token", lambda: c.json("POST", "/v1.0/me/getMemberObjects", {"securityEnabledOnly": False}), 401,
             "InvalidAuthenticationToken"),
            ("bad token", lambda: graph_get(c, "/v1.0/me/transitiveMemberOf", "eyJ.bad.token"), 401,
             "InvalidAuthenticationToken"),
            ("GET getMemberObjects", lambda: graph_get(c, "/v1.0/me/getMemberObjects", at), 405, "Request_BadRequest"),
            ("no body", lambda: graph_get(c, "/v1.0/me/getMemberObjects", at, "POST", ""), 400, "BadRequest"),
            ("no securityEnabledOnly", lambda: graph_get(c, "/v1.0/me/getMemberObjects", at, "POST", {}), 400,
             "Request_BadRequest"),
            ("$top=1000", lambda: graph_get(c, "/v1.0/me/transitiveMemberOf?$top=1000", at), 400, "Request_BadRequest"),
            ("bad skiptoken", lambda: graph_get(c, "/v1.0/me/transitiveMemberOf?$skiptoken=zzz", at), 400,
             "Request_BadRequest")):
        st, h, d = call()
        check(st == status and d["error"]["code"] == code and d["error"]["innerError"]["request-id"],
              "Graph error: %s -> %d %s" % (what, status, code))
    st, h, _ = graph_get(c, "/v1.0/me/getMemberObjects", "nope", "POST", {"securityEnabledOnly": False})
    check("www-authenticate" in h, "Graph 401 has WWW-Authenticate")

    # 250 generated groups: one answer from getMemberObjects, pages from transitiveMemberOf
    c.json("POST", "/_mock/config", {"user": {"groups_count": 250}})
    at = sign_in(c)["access_token"]
    want = groups + ["2f6a4c1e-0000-4000-8001-%012d" % i for i in range(1, 251)]
    st, _, d = graph_get(c, "/v1.0/me/getMemberObjects", at, "POST", {"securityEnabledOnly": True})
    check(st == 200 and d["value"] == want and "@odata.nextLink" not in d, "getMemberObjects: 252 in one answer")
    ids, pages, links = follow(c, at, "/v1.0/me/transitiveMemberOf?$select=id")
    check(ids == want and pages == 3 and all(l.startswith(base + "/v1.0/me/transitiveMemberOf?$select=id&$top=100&$skiptoken=")
                                             for l in links), "transitiveMemberOf: 3 pages of 100 via nextLink")
    ids, pages, _ = follow(c, at, "/v1.0/me/transitiveMemberOf?$select=id&$top=999")
    check(ids == want and pages == 1, "transitiveMemberOf $top=999: one page")
    ids, pages, _ = follow(c, at, "/v1.0/me/transitiveMemberOf/microsoft.graph.group?$select=id&$top=120")
    check(ids == want and pages == 3, "transitiveMemberOf/microsoft.graph.group $top=120")
    c.json("POST", "/_mock/config", {"graph_page_size": 100})
    ids, pages, links = follow(c, at, "/v1.0/me/getMemberObjects", "POST", {"securityEnabledOnly": False})
    check(ids == want and pages == 3 and links[0].startswith(base + "/v1.0/me/getMemberObjects?$skiptoken="),
          "graph_page_size: getMemberObjects pages (POST)")
    ids, pages, _ = follow(c, at, "/v1.0/me/getMemberObjects", "POST", {"securityEnabledOnly": False})
    u = urlsplit(links[0])
    st, _, d = graph_get(c, u.path + "?" + u.query, at)
    check(st == 200 and d["value"] == want[100:200], "getMemberObjects next page by GET")
    ids, pages, _ = follow(c, at, "/v1.0/me/transitiveMemberOf?$select=id")
    check(pages == 3, "graph_page_size is transitiveMemberOf's default page")

    # wids: directory roles when not security-only
    c.json("POST", "/_mock/reset")
    c.json("POST", "/_mock/config", {"user": {"wids": ["62e90394-69f5-4237-9190-012177145e10"]}})
    at = sign_in(c)["access_token"]
    a = graph_get(c, "/v1.0/me/getMemberObjects", at, "POST", {"securityEnabledOnly": False})[2]["value"]
    b = graph_get(c, "/v1.0/me/getMemberObjects", at, "POST", {"securityEnabledOnly": True})[2]["value"]
    t = graph_get(c, "/v1.0/me/transitiveMemberOf", at)[2]["value"]
    check(len(a) == 3 and b == groups and t[-1]["@odata.type"] == "#microsoft.graph.directoryRole"
          and t[-1]["roleTemplateId"] == "62e90394-69f5-4237-9190-012177145e10", "directory roles from wids")

    # switches: graph, graph_groups, graph_next
    c.json("POST", "/_mock/config", {"user": {"groups_count": 150}})
    at = sign_in(c)["access_token"]
    before = c.json("GET", "/_mock/stats")[2]["requests"]
    c.json("POST", "/_mock/config", {"fail": {"graph_groups": 503}})
    st, h, d = graph_get(c, "/v1.0/me/getMemberObjects", at, "POST", {"securityEnabledOnly": False})
    check(st == 503 and d["error"]["code"] == "serviceNotAvailable" and h.get("retry-after"), "fail graph_groups: Graph-shaped 503")
    check(graph_get(c, "/v1.0/me", at)[0] == 200, "... /v1.0/me unaffected")
    c.json("POST", "/_mock/config", {"fail": {"graph_groups": None, "graph_next": 500}})
    st, _, d = graph_get(c, "/v1.0/me/transitiveMemberOf?$select=id", at)
    u = urlsplit(d["@odata.nextLink"])
    st2, _, d2 = graph_get(c, u.path + "?" + u.query, at)
    check(st == 200 and st2 == 500 and d2["error"]["code"] == "generalException", "fail graph_next: second page fails")
    c.json("POST", "/_mock/config", {"fail": {"graph_next": None, "graph": 403}})
    st, _, d = graph_get(c, "/v1.0/me", at)
    check(st == 403 and d["error"]["code"] == "Authorization_RequestDenied", "fail graph 403: Graph-shaped")
    c.json("POST", "/_mock/config", {"fail": None})
    after = c.json("GET", "/_mock/stats")[2]["requests"]
    check(after["graph"] - before["graph"] == 5 and after["graph_groups"] - before["graph_groups"] == 3
          and after["graph_next"] - before["graph_next"] == 1, "stats: graph / graph_groups / graph_next counts")
    # expired access token
    with_exp = c.json("POST", "/_mock/config", {"graph_page_size": None})
    check(with_exp[0] == 200, "graph_page_size null")
    check(c.json("POST", "/_mock/config", {"graph_page_size": 0})[0] == 400, "graph_page_size 0 rejected")


def overage(c, base, port):
    tok = sign_in(c)
    cl = jwt_parts(tok["id_token"])[1]
    check(len(cl["groups"]) == 2 and "_claim_names" not in cl, "no overage with two groups")
    src = {"src1": {"endpoint": "https://graph.windows.net/%s/users/%s/getMemberObjects" % (TID, cl["oid"])}}
    for what, cfg in (("groups_count 250", {"user": {"groups_count": 250}}),
                      ("201 groups", {"user": {"groups_count": 199}}),
                      ("groups_overage switch", {"groups_overage": True})):
        c.json("POST", "/_mock/reset")
        c.json("POST", "/_mock/config", cfg)
        cl = jwt_parts(sign_in(c)["id_token"])[1]
        check("groups" not in cl and cl["_claim_names"] == {"groups": "src1"} and cl["_claim_sources"] == src
              and "groups_count" not in cl, "overage: " + what)
    c.json("POST", "/_mock/reset")
    c.json("POST", "/_mock/config", {"user": {"groups_count": 198}})
    cl = jwt_parts(sign_in(c)["id_token"])[1]
    check(len(cl["groups"]) == 200 and "_claim_names" not in cl and cl["groups"][2] == "2f6a4c1e-0000-4000-8001-000000000001",
          "200 groups: all in the token")
    c.json("POST", "/_mock/config", {"user": {"groups": None, "groups_count": 3}})
    cl = jwt_parts(sign_in(c)["id_token"])[1]
    check(cl["groups"] == ["2f6a4c1e-0000-4000-8001-%012d" % i for i in (1, 2, 3)], "generated groups only")
    c.json("POST", "/_mock/config", {"user": {"groups_count": 300, "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
                                     "cloud": "china"})
    tok = sign_in(c, v="", scope="openid", extra={"resource": GRAPH})
    cl = jwt_parts(tok["id_token"])[1]
    check(cl["_claim_sources"]["src1"]["endpoint"] == "https://graph.chinacloudapi.cn/72f988bf-86f1-41af-91ab-2d7cd011db47"
          "/users/%s/getMemberObjects" % cl["oid"] and cl["ver"] == "1.0", "overage in a v1 token, China cloud")
    st, _, d = graph_get(c, "/v1.0/me/getMemberObjects", tok["access_token"], "POST", {"securityEnabledOnly": False})
    check(st == 200 and len(d["value"]) == 300, "... and Graph resolves the 300 groups")
    check(c.json("POST", "/_mock/config", {"user": {"groups_count": "many"}})[0] == 400, "groups_count must be an integer")


def profile(c, base, port):
    tok = sign_in(c, scope="openid")
    st, _, u = c.json("GET", "/oidc/userinfo", headers={"Authorization": "Bearer " + tok["access_token"]})
    check(st == 200 and set(u) == {"sub"}, "userinfo with openid only: sub")
    tok = sign_in(c, scope="openid profile")
    st, _, u = c.json("GET", "/oidc/userinfo", headers={"Authorization": "Bearer " + tok["access_token"]})
    check(set(u) == {"sub", "name", "given_name", "family_name", "picture"}, "userinfo with profile: no email")
    c.json("POST", "/_mock/config", {"user": {
        "name": "Megan Bowen", "given_name": "Megan", "family_name": "Bowen", "email": "megan@contoso.test",
        "sub": "mEgAnSuB", "oid": "11111111-2222-3333-4444-555555555555", "upn": "megan.bowen@contoso.test",
        "preferred_username": "megan@contoso.test", "mail": "Megan.Bowen@contoso.test", "job_title": "Auditor",
        "business_phones": [], "mobile_phone": "+1 555 0100", "office_location": "12/1110",
        "preferred_language": "fr-FR"}})
    tok = sign_in(c)
    at = {"Authorization": "Bearer " + tok["access_token"]}
    cl = jwt_parts(tok["id_token"])[1]
    check(cl["given_name"] == "Megan" and cl["upn"] == "megan.bowen@contoso.test"
          and not any(k in cl for k in ("mail", "job_title", "business_phones", "mobile_phone", "office_location",
                                        "preferred_language")), "Graph-only user keys stay out of the ID token")
    st, _, u = c.json("GET", "/oidc/userinfo", headers=at)
    check(u == {"sub": "mEgAnSuB", "name": "Megan Bowen", "given_name": "Megan", "family_name": "Bowen",
                "email": "megan@contoso.test", "picture": base + "/v1.0/me/photo/$value"}, "userinfo follows the user switch")
    st, _, me = c.json("GET", "/v1.0/me", headers=at)
    check(st == 200 and me["id"] == "11111111-2222-3333-4444-555555555555" and me["displayName"] == "Megan Bowen"
          and me["givenName"] == "Megan" and me["surname"] == "Bowen" and me["mail"] == "Megan.Bowen@contoso.test"
          and me["userPrincipalName"] == "megan.bowen@contoso.test" and me["jobTitle"] == "Auditor"
          and me["businessPhones"] == [] and me["mobilePhone"] == "+1 555 0100" and me["officeLocation"] == "12/1110"
          and me["preferredLanguage"] == "fr-FR", "Graph /v1.0/me follows the user switch")
    st, _, me = c.json("GET", "/v1.0/me?$select=mail,userPrincipalName,givenName", headers=at)
    check(set(me) == {"@odata.context", "mail", "userPrincipalName", "givenName"}
          and me["@odata.context"].endswith("users(mail,userPrincipalName,givenName)/$entity"), "Graph /me $select")
    c.json("POST", "/_mock/reset")
    c.json("POST", "/_mock/config", {"user": {"email": None, "job_title": None}})
    st, _, me = c.json("GET", "/v1.0/me", headers={"Authorization": "Bearer " + sign_in(c)["access_token"]})
    check(me["mail"] is None and me["jobTitle"] is None and me["userPrincipalName"] == "adele@contoso.test"
          and me["givenName"] == "Adele", "no email -> mail null (PlaceOS falls back to userPrincipalName)")
    c.json("POST", "/_mock/reset")
    tok = sign_in(c)
    check(tok["expires_in"] == 3599 and "nonce" in jwt_parts(tok["access_token"])[0] and tok["refresh_token"],
          "v2 token response unchanged")
    tokens_switches(c, base)


def tokens_switches(c, base):
    """token_type, no_kid, jwks_shape one/several, profile_override."""
    c.json("POST", "/_mock/reset")
    check(sign_in(c)["token_type"] == "Bearer", "token_type Bearer by default")
    st, _, v = c.json("POST", "/_mock/config", {"token_type": "pop"})
    check(st == 200 and v["token_type"] == "pop" and sign_in(c)["token_type"] == "pop", "token_type switch")
    c.json("POST", "/_mock/config", {"token_type": False})
    check("token_type" not in sign_in(c), "token_type false: left out")
    check(c.json("POST", "/_mock/config", {"token_type": 1})[0] == 400, "token_type 1: refused")
    c.json("POST", "/_mock/reset")
    c.json("POST", "/_mock/config", {"no_kid": True})
    tok = sign_in(c)
    h = jwt_parts(tok["id_token"])[0]
    check("kid" not in h and "x5t" not in h and h["alg"] == "RS256", "no_kid: ID token header without kid")
    keys = jwks_keys(c)
    check(len(keys) == 1 and verify_rs256(tok["id_token"], {None: list(keys.values())[0]}),
          "no_kid: the tenant's one JWKS key verifies it")
    st, _, api = c.json("GET", "/_mock/api_token?format=json")
    check(st == 200 and "kid" not in jwt_parts(api["token"])[0], "no_kid: own-API access token without kid")
    c.json("POST", "/_mock/reset")
    check(len(jwks_keys(c, "/common/discovery/v2.0/keys")) == 2, "common JWKS: two keys")
    c.json("POST", "/_mock/config", {"jwks_shape": "one"})
    check(len(jwks_keys(c, "/common/discovery/v2.0/keys")) == 1, "jwks_shape one: one key")
    c.json("POST", "/_mock/config", {"jwks_shape": "several"})
    keys = jwks_keys(c)
    check(len(keys) == 3 and verify_rs256(sign_in(c)["id_token"], keys), "jwks_shape several: 3 keys, tokens verify")
    c.json("POST", "/_mock/reset")
    c.json("POST", "/_mock/config", {"profile_override": {"email": "ceo@contoso.test", "roles": ["Admin"],
                                                          "given_name": None}})
    at = {"Authorization": "Bearer " + sign_in(c)["access_token"]}
    st, _, u = c.json("GET", "/oidc/userinfo", headers=at)
    check(u.get("email") == "ceo@contoso.test" and u.get("roles") == ["Admin"] and "given_name" not in u
          and u.get("sub"), "profile_override: userinfo")
    st, _, me = c.json("GET", "/v1.0/me", headers=at)
    check(me.get("email") == "ceo@contoso.test" and me.get("roles") == ["Admin"] and me.get("given_name", 1) is None,
          "profile_override: Graph /me")
    check(c.json("POST", "/_mock/config", {"profile_override": []})[0] == 400, "profile_override list: refused")
    c.json("POST", "/_mock/reset")


APP_ID_URI = "api://" + CID
SP_OID = "5e0b7f4a-2c1d-4e3f-9a8b-7c6d5e4f3a2b"
FOREIGN_TID = "0b9d7f3e-5a4c-4e2b-9d1f-6c8a7e5b3d2f"


def client_token(c, fields, v="v2.0/", secret=SECRET):
    f = {"grant_type": "client_credentials", "client_id": CID, "client_secret": secret}
    f.update(fields)
    return c.form("/%s/oauth2/%stoken" % (TID, v), f)


def own_api(c, base, port):
    """Access tokens for the app's own API (delegated, app-only, minted), the
    access-token lifetime switch, grant counters."""
    keys = jwks_keys(c)
    user = c.json("GET", "/_mock/info")[2]["user"]
    _, _, info = c.json("GET", "/_mock/info")
    check(info["app_id_uri"] == APP_ID_URI and info["service_principal_oid"] == SP_OID
          and info["api_scopes"] == ["access_as_user", "Tasks.Read"], "info: own API")

    # delegated, v2 (the default): aud = client id, no nonce header, verifiable
    tok = sign_in(c, scope="openid profile offline_access api://%s/access_as_user" % CID)
    h, cl, _ = jwt_parts(tok["access_token"])
    check("nonce" not in h and h["alg"] == "RS256" and verify_rs256(tok["access_token"], keys),
          "API token: RS256, no nonce header, verifies with the JWKS")
    check(cl["aud"] == CID and cl["iss"] == "%s/%s/v2.0" % (base, TID) and cl["ver"] == "2.0"
          and cl["scp"] == "access_as_user" and cl["roles"] == user["roles"] and cl["oid"] == user["oid"]
          and cl["tid"] == TID and cl["azp"] == CID and cl["preferred_username"] == user["preferred_username"]
          and cl["exp"] - cl["iat"] == 3599 + 300 and "appid" not in cl, "API token v2 claims")
    check(tok["scope"] == "openid profile offline_access api://%s/access_as_user" % CID and tok["refresh_token"]
          and tok["id_token"], "API token response: scope, refresh and ID token")
    st, _, _ = c.json("GET", "/v1.0/me", headers={"Authorization": "Bearer " + tok["access_token"]})
    check(st == 401, "Graph refuses an API token")
    st, _, t2 = c.form("/%s/oauth2/v2.0/token" % TID, {"grant_type": "refresh_token", "client_id": CID,
                                                       "client_secret": SECRET, "refresh_token": tok["refresh_token"],
                                                       "scope": "openid offline_access %s/.default" % CID})
    _, c2, _ = jwt_parts(t2["access_token"]) if st == 200 else ({}, {}, b"")
    check(st == 200 and c2.get("aud") == CID and c2.get("scp") == "access_as_user Tasks.Read",
          "refresh for <client id>/.default: every exposed scope")
    _, _, stats = c.json("GET", "/_mock/stats")
    check(stats["grants"]["authorization_code"] == 1 and stats["grants"]["refresh_token"] == 1
          and stats["last"]["token_response"]["refresh_token"] == t2["refresh_token"],
          "stats: grants counted, last token response")

    # v1 shape
    c.json("POST", "/_mock/config", {"api_token_version": 1})
    tok = sign_in(c, scope="openid api://%s/access_as_user api://%s/Tasks.Read" % (CID, CID))
    h, cl, _ = jwt_parts(tok["access_token"])
    check(cl["aud"] == APP_ID_URI and cl["iss"] == "https://sts.windows.net/%s/" % TID and cl["ver"] == "1.0"
          and cl["appid"] == CID and cl["scp"] == "access_as_user Tasks.Read" and cl["upn"] == user["preferred_username"]
          and "azp" not in cl and verify_rs256(tok["access_token"], keys), "API token v1 (api_token_version 1)")
    c.json("POST", "/_mock/config", {"api_token_version": None})

    # one resource per token
    st, h, p, ver, _ = login(c, scope="openid User.Read api://%s/access_as_user" % CID)
    st, _, d = redeem(c, p["code"], ver)
    check(entra_error_ok(st, d, 400, "invalid_scope", 28000), "Graph and API scopes together: AADSTS28000")

    # access_token_lifetime
    c.json("POST", "/_mock/config", {"access_token_lifetime": 120})
    tok = sign_in(c)
    _, cl, _ = jwt_parts(tok["access_token"])
    check(tok["expires_in"] == 120 and cl["exp"] - cl["iat"] == 120 + 300, "access_token_lifetime: Graph token")
    st, _, t2 = c.form("/%s/oauth2/v2.0/token" % TID, {"grant_type": "refresh_token", "client_id": CID,
                                                       "client_secret": SECRET, "refresh_token": tok["refresh_token"]})
    check(st == 200 and t2["expires_in"] == 120, "access_token_lifetime: refreshed token too")
    for bad in ({"api_token_version": 3}, {"access_token_lifetime": 0}, {"app_roles": "x"}):
        check(c.json("POST", "/_mock/config", bad)[0] == 400, "config refuses %s" % bad)
    c.json("POST", "/_mock/reset")
    cfg = c.json("GET", "/_mock/config")[2]
    check(cfg["access_token_lifetime"] is None and cfg["api_token_version"] == 2
          and cfg["app_roles"] == ["Tasks.Read.All"], "reset: API switches back to defaults")

    # client credentials
    st, _, t = client_token(c, {"scope": "api://%s/.default" % CID})
    h, cl, _ = jwt_parts(t["access_token"]) if st == 200 else ({}, {}, b"")
    check(st == 200 and "refresh_token" not in t and "id_token" not in t and t["expires_in"] == 3599,
          "client credentials: an access token only")
    check(cl.get("idtyp") == "app" and cl.get("oid") == SP_OID and cl.get("sub") == SP_OID
          and cl.get("roles") == ["Tasks.Read.All"] and "scp" not in cl and "name" not in cl
          and "preferred_username" not in cl and cl.get("aud") == CID and cl.get("azp") == CID
          and verify_rs256(t["access_token"], keys), "client credentials: app-only claims")
    c.json("POST", "/_mock/config", {"app_roles": [], "api_token_version": 1})
    st, _, t = client_token(c, {"scope": "%s/.default" % CID})
    cl = jwt_parts(t["access_token"])[1] if st == 200 else {}
    check(st == 200 and "roles" not in cl and cl["aud"] == APP_ID_URI and cl["ver"] == "1.0",
          "client credentials: no roles, v1 shape")
    c.json("POST", "/_mock/reset")
    st, _, d = client_token(c, {"scope": "api://%s/access_as_user" % CID})
    check(entra_error_ok(st, d, 400, "invalid_scope", 1002012), "client credentials without /.default")
    st, _, d = client_token(c, {"scope": "api://someone-else/.default"})
    check(entra_error_ok(st, d, 400, "invalid_resource", 500011), "client credentials for an unknown resource")
    st, _, d = client_token(c, {})
    check(entra_error_ok(st, d, 400, "invalid_request", 900144), "client credentials without scope")
    st, _, d = client_token(c, {"scope": "api://%s/.default" % CID}, secret="nope")
    check(entra_error_ok(st, d, 401, "invalid_client", 7000215), "client credentials, bad secret")
    st, _, t = client_token(c, {"resource": APP_ID_URI}, v="")
    check(st == 200 and t["expires_in"] == "3599" and jwt_parts(t["access_token"])[1]["idtyp"] == "app",
          "client credentials on the v1 endpoint (resource)")
    check(c.json("GET", "/_mock/stats")[2]["grants"]["client_credentials"] == 5, "client_credentials counted")

    # minted directly
    def minted(q):
        st, _, d = c.json("GET", "/_mock/api_token?format=json&" + q)
        return d if st == 200 else None
    d = minted("")
    check(d and verify_rs256(d["token"], keys) and d["claims"]["aud"] == CID and d["claims"]["scp"] == "access_as_user"
          and d["claims"]["roles"] == user["roles"] and d["claims"]["exp"] > time.time() + 3000, "api_token: default")
    d = minted("version=1&scp=Tasks.Read%20Tasks.Write&roles=")
    check(d and d["claims"]["iss"] == "https://sts.windows.net/%s/" % TID and d["claims"]["aud"] == APP_ID_URI
          and d["claims"]["scp"] == "Tasks.Read Tasks.Write" and "roles" not in d["claims"], "api_token: v1, scp, no roles")
    d = minted("app=1")
    check(d and d["claims"]["oid"] == SP_OID and "scp" not in d["claims"] and d["claims"]["roles"] == ["Tasks.Read.All"],
          "api_token: app-only")
    d = minted("expired=1")
    check(d and d["claims"]["exp"] < time.time() - 3000 and verify_rs256(d["token"], keys), "api_token: expired")
    d = minted("wrong_aud=1")
    check(d and d["claims"]["aud"] == "3c1e5a7b-2d4f-4a6e-8b0c-9d1e2f3a4b5c", "api_token: wrong audience")
    d = minted("aud=api://custom-uri")
    check(d and d["claims"]["aud"] == "api://custom-uri", "api_token: audience given")
    d = minted("tenant=other")
    check(d and d["claims"]["tid"] == FOREIGN_TID and d["claims"]["iss"] == "%s/%s/v2.0" % (base, FOREIGN_TID)
          and verify_rs256(d["token"], keys), "api_token: another tenant")
    d = minted("iss_tenant=other")
    check(d and d["claims"]["tid"] == TID and FOREIGN_TID in d["claims"]["iss"], "api_token: iss of another tenant")
    d = minted("bad=bad_signature")
    check(d and not verify_rs256(d["token"], keys), "api_token: bad signature")
    d = minted("bad=alg_none")
    check(d and d["header"]["alg"] == "none" and d["token"].endswith("."), "api_token: alg none")
    st, h, raw = c.req("GET", "/_mock/api_token?exp_in=60")
    check(st == 200 and h["content-type"].startswith("text/plain")
          and jwt_parts(raw.decode())[1]["exp"] - jwt_parts(raw.decode())[1]["iat"] == 360, "api_token: plain JWT, exp_in")
    check(c.json("GET", "/_mock/api_token?version=3")[0] == 400
          and c.json("GET", "/_mock/api_token?bad=nope")[0] == 400, "api_token: bad parameters -> 400")


def pub_pem(jwk):
    cert = x509.load_der_x509_certificate(base64.b64decode(jwk["x5c"][0]))
    return cert.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def recv_all(s):
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError:
        pass
    s.close()
    return out


def sigterm(proc, port):
    """SIGTERM exits promptly, even with a slow request in flight and an idle keep-alive."""
    c = Client(port)
    c.json("POST", "/_mock/config", {"slow": {"discovery": 30}})
    threading.Thread(target=lambda: _quiet(c.req, "GET", "/common/v2.0/.well-known/openid-configuration", timeout=40),
                     daemon=True).start()
    idle = socket.create_connection(("127.0.0.1", port))
    idle.sendall(b"GET /_mock/info HTTP/1.1\r\nHost: x\r\n\r\n")
    idle.recv(65536)
    time.sleep(0.3)
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0 and time.time() - t0 < 3, "SIGTERM: exit %r in %.2fs" % (rc, time.time() - t0))
    idle.close()


def _quiet(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except Exception:
        pass


def strict(c, base, port):
    """Entra's strictness: registered redirect URIs, refresh-token life,
    interaction_required, prompt/max_age, Cache-Control, Graph permissions,
    a nextLink to another host, the secret's encoding."""
    # ---- redirect URIs: exact (scheme, host, port, path)
    for bad in ("http://localhost:8530/.auth/login/aad/callback", "https://localhost:8529/.auth/login/aad/callback",
                "http://127.0.0.1:8529/.auth/login/aad/callback", "http://localhost:8529/.auth/login/aad/callbacK",
                "http://localhost:8529/.auth/login/aad/callback/", "http://evil.example/.auth/login/aad/callback"):
        st, h, _, _, body = login(c, extra={"redirect_uri": bad})
        check(st == 400 and "location" not in h and b"AADSTS50011" in body and b"does not match the redirect URIs" in body,
              "authorize refuses unregistered %s (page, no redirect)" % bad)
    st, _, d = c.json("POST", "/_mock/app", {"redirect_uris": ["/relative"]})
    check(st == 400, "app registration takes absolute URLs only")
    st, _, d = c.json("GET", "/_mock/app")
    check(d["redirect_uris"] == [REDIRECT, REDIRECT + "?x=1"], "... and kept its list (also across reset)")
    st, _, d = c.json("POST", "/_mock/app", {"add_redirect_uris": ["http://localhost:9/cb", REDIRECT]})
    check(st == 200 and d["redirect_uris"] == [REDIRECT, REDIRECT + "?x=1", "http://localhost:9/cb"], "add_redirect_uris")
    c.json("POST", "/_mock/app", {"redirect_uris": [REDIRECT, REDIRECT + "?x=1"]})

    # ---- Cache-Control of discovery and JWKS
    for path in ("/%s/v2.0/.well-known/openid-configuration" % TID, "/%s/discovery/v2.0/keys" % TID,
                 "/common/discovery/keys", "/%s/.well-known/openid-configuration" % TID):
        st, h, _ = c.req("GET", path)
        check(st == 200 and h.get("cache-control") == "max-age=86400, private", "Cache-Control of " + path)
    st, h, _ = c.req("POST", "/%s/oauth2/v2.0/token" % TID, "")
    check(h.get("cache-control") == "no-store, no-cache", "token endpoint: no-store")

    # ---- refresh tokens: expire, revoked, interaction_required
    def refresh(rt, **kw):
        f = {"grant_type": "refresh_token", "refresh_token": rt, "client_id": CID, "client_secret": SECRET}
        f.update(kw)
        return c.form("/%s/oauth2/v2.0/token" % TID, f)
    rt = sign_in(c)["refresh_token"]
    check(refresh("1.Anosuch")[0] == 400, "unknown refresh token refused")
    c.json("POST", "/_mock/config", {"expire_refresh_tokens": True})
    st, _, d = refresh(rt)
    check(entra_error_ok(st, d, 400, "invalid_grant", 700082), "expire_refresh_tokens -> 700082")
    rt2 = sign_in(c)["refresh_token"]
    check(refresh(rt2)[0] == 200, "... a refresh token issued afterwards is good")
    c.json("POST", "/_mock/reset")
    c.json("POST", "/_mock/config", {"refresh_token_lifetime": 1})
    rt = sign_in(c)["refresh_token"]
    with_now = c.json("GET", "/_mock/config")[2]
    check(with_now["refresh_token_lifetime"] == 1, "refresh_token_lifetime switch")
    c.json("POST", "/_mock/reset")
    rt = sign_in(c)["refresh_token"]
    c.json("POST", "/_mock/config", {"revoke_sessions": True})
    st, _, d = refresh(rt)
    check(entra_error_ok(st, d, 400, "invalid_grant", 50173) and "TokensValidFrom" in d["error_description"],
          "revoke_sessions -> 50173")
    st, _, _ = refresh(sign_in(c)["refresh_token"])
    check(st == 200, "... a sign-in after the revocation is good")
    c.json("POST", "/_mock/reset")
    rt = sign_in(c)["refresh_token"]
    c.json("POST", "/_mock/config", {"interaction_required": True})
    st, _, d = refresh(rt)
    check(st == 400 and d["error"] == "interaction_required" and d["error_codes"] == [50076]
          and d["error_description"].startswith("AADSTS50076: ") and json.loads(d["claims"])["access_token"]["capolids"]["essential"] is True,
          "interaction_required with a claims challenge")
    c.json("POST", "/_mock/config", {"interaction_required": {"code": 50079, "claims": '{"id_token":{"acrs":{"essential":true,"value":"c1"}}}'}})
    st, _, d = refresh(rt)
    check(st == 400 and d["error_codes"] == [50079] and d["claims"] == '{"id_token":{"acrs":{"essential":true,"value":"c1"}}}',
          "interaction_required: code and claims set")
    check(sign_in(c).get("id_token"), "... the authorization_code grant is not affected by default")
    c.json("POST", "/_mock/config", {"interaction_required": None})
    check(refresh(rt)[0] == 200, "... null: refresh works again (the token was not spent)")
    check(c.json("POST", "/_mock/config", {"interaction_required": {"nope": 1}})[0] == 400, "interaction_required validated")

    # ---- prompt, max_age, login_hint and Entra's session cookie
    st, h, p, _, _ = login(c, extra={"prompt": "none"})
    check(st == 302 and p.get("error") == "login_required" and p["error_description"].startswith("AADSTS50058: ")
          and p.get("state") == p["_q"]["state"] and "set-cookie" not in h, "prompt=none without a session: login_required")
    st, h, p, ver, _ = login(c, extra={"login_hint": "adele@contoso.test"})
    cookie = h.get("set-cookie", "").split(";")[0]
    check(st == 302 and p.get("code") and cookie.startswith("ESTSAUTH="), "sign-in sets Entra's session cookie")
    last = c.json("GET", "/_mock/stats")[2]["last"]["authorize"]
    check(last["login_hint"] == "adele@contoso.test" and last["_signed_in"] == "fresh", "login_hint recorded, fresh sign-in")
    cl = jwt_parts(redeem(c, p["code"], ver)[2]["id_token"])[1]
    check("auth_time" not in cl, "no auth_time without max_age")
    auth_time = last["_auth_time"]

    def login_c(**extra):
        q = {"client_id": CID, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid",
             "state": "s1", "nonce": "n1"}
        q.update(extra)
        st, h, _ = c.req("GET", "/%s/oauth2/v2.0/authorize?%s" % (TID, urlencode(q)), headers={"Cookie": cookie})
        return st, h, {k: v[0] for k, v in parse_qs(urlsplit(h.get("location", "")).query).items()}
    st, h, p = login_c(prompt="none")
    last = c.json("GET", "/_mock/stats")[2]["last"]["authorize"]
    check(st == 302 and p.get("code") and last["_signed_in"] == "sso" and last["_auth_time"] == auth_time
          and "set-cookie" not in h, "prompt=none with a session: code, same auth_time")
    st, h, p = login_c(max_age="3600")
    t = c.form("/%s/oauth2/v2.0/token" % TID, {"grant_type": "authorization_code", "code": p["code"], "redirect_uri": REDIRECT,
                                               "client_id": CID, "client_secret": SECRET})[2]
    check(jwt_parts(t["id_token"])[1].get("auth_time") == auth_time, "max_age: auth_time claim (the session's)")
    st, h, p = login_c(max_age="0")
    last = c.json("GET", "/_mock/stats")[2]["last"]["authorize"]
    check(p.get("code") and last["_signed_in"] == "fresh" and h.get("set-cookie", "").startswith("ESTSAUTH="),
          "max_age=0 (exceeded): fresh sign-in, a new session")
    st, h, p = login_c(prompt="login")
    check(p.get("code") and c.json("GET", "/_mock/stats")[2]["last"]["authorize"]["_signed_in"] == "fresh", "prompt=login: fresh sign-in")
    st, h, p = login_c(prompt="bogus")
    check(p.get("error") == "invalid_request", "unknown prompt refused")
    c.req("GET", "/%s/oauth2/v2.0/logout" % TID, headers={"Cookie": cookie})
    st, h, p = login_c(prompt="none")
    check(p.get("error") == "login_required", "after Entra's logout, prompt=none: login_required")

    # ---- Graph: permissions, no paging of getMemberObjects, nextLink to another host
    c.json("POST", "/_mock/config", {"user": {"groups_count": 1500}})
    at = sign_in(c)["access_token"]
    st, _, d = graph_get(c, "/v1.0/me/getMemberObjects", at, "POST", {"securityEnabledOnly": False})
    check(st == 200 and len(d["value"]) == 1502 and "@odata.nextLink" not in d, "getMemberObjects: 1502 ids, one answer")
    c.json("POST", "/_mock/config", {"graph_consented": []})
    tok = sign_in(c, scope="openid profile")
    check(jwt_parts(tok["access_token"])[1]["scp"] == "openid profile", "no consented permissions: scp as asked")
    for path, method, body in (("/v1.0/me", "GET", None), ("/v1.0/me/getMemberObjects", "POST", {"securityEnabledOnly": False}),
                               ("/v1.0/me/transitiveMemberOf", "GET", None)):
        st, _, d = graph_get(c, path, tok["access_token"], method, body)
        check(st == 403 and d["error"]["code"] == "Authorization_RequestDenied", "Graph %s without User.Read: 403" % path)
    tok = sign_in(c, scope="openid User.Read")
    check(graph_get(c, "/v1.0/me", tok["access_token"])[0] == 200, "... with User.Read asked for: 200")
    c.json("POST", "/_mock/config", {"graph_consented": None, "graph_foreign_next_link": True})
    info = c.json("GET", "/_mock/info")[2]
    at = sign_in(c)["access_token"]
    for path, method, body in (("/v1.0/me/getMemberObjects", "POST", {"securityEnabledOnly": False}),
                               ("/v1.0/me/transitiveMemberOf?$select=id", "GET", None)):
        st, _, d = graph_get(c, path, at, method, body)
        check(st == 200 and d["@odata.nextLink"].startswith(info["attacker_base"] + "/v1.0/me/"),
              "graph_foreign_next_link: %s points at the attacker" % path)
    u = urlsplit(d["@odata.nextLink"])
    a = Client(u.port)
    st, _, d = graph_get(a, u.path + "?" + u.query, at)
    stats = c.json("GET", "/_mock/stats")[2]
    check(st == 200 and d["value"] == [info["attacker_group"]] and len(stats["foreign"]) == 1
          and stats["foreign"][0]["authorization"] == "Bearer " + at, "the attacker records the bearer token it got")
    c.json("POST", "/_mock/reset")
    check(c.json("GET", "/_mock/stats")[2]["foreign"] == [], "reset clears the attacker's record")

    # ---- the secret: form-encoded in the body and in Basic (RFC 6749 2.3.1)
    st, h, p, ver, _ = login(c)
    hdr = {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (CID, SECRET)).encode()).decode()}
    st, _, d = c.form("/%s/oauth2/v2.0/token" % TID, {"grant_type": "authorization_code", "code": p["code"],
                                                      "redirect_uri": REDIRECT, "code_verifier": ver}, hdr)
    check(entra_error_ok(st, d, 401, "invalid_client", 7000215), "Basic with the secret not form-encoded: 401")
    st, _, d = c.req("POST", "/%s/oauth2/v2.0/token" % TID,
                     "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s&client_id=%s&client_secret=%s"
                     % (quote(p["code"]), quote(REDIRECT, safe=""), ver, CID, SECRET),
                     {"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 401, "client_secret_post with the secret not URL-encoded: 401")
    st, _, d = redeem(c, p["code"], ver, basic=True)
    check(st == 200, "Basic with id and secret form-encoded: 200")

if __name__ == "__main__":
    main()
    sys.exit(1 if failed else 0)
