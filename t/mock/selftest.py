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
from urllib.parse import parse_qs, urlencode, urlsplit, quote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HERE = os.path.dirname(os.path.abspath(__file__))
TID = "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
CID = "6731de76-14a6-49ae-97bc-6eba6914391e"
SECRET = "mock-Secret~value.123"
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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
    port, bport = free_port(), free_port()
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "mock_entra.py"),
                             "--port", str(port), "--backend-port", str(bport)],
                            stdout=subprocess.PIPE, text=True)
    try:
        ready = select.select([proc.stdout], [], [], 20)[0] and proc.stdout.readline().strip()
        if not check(ready == "ready", "mock prints ready"):
            return
        run(Client(port), Client(bport), port)
        sigterm(proc, port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print("%d passed, %d failed" % (passed, failed))


def run(c, echo, port):
    base = "http://127.0.0.1:%d" % port
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
          and acl["scp"] == "openid profile email", "access token: header nonce, Graph aud, scp")
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
    st, _, d = redeem(c, p["code"], ver, redirect=REDIRECT + "x")
    check(entra_error_ok(st, d, 400, "invalid_grant", 500112), "redirect_uri mismatch")
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
    check(entra_error_ok(st, d, 400, "invalid_grant", 70008), "old refresh token spent")
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
    st, h, _ = c.req("GET", "/%s/oauth2/v2.0/logout?post_logout_redirect_uri=%s&state=abc"
                     % (TID, quote("http://localhost:8529/bye", safe="")))
    check(st == 302 and h["location"] == "http://localhost:8529/bye?state=abc", "logout redirect")
    check(c.req("GET", "/%s/oauth2/logout" % TID)[0] == 200, "v1 logout 200")

    # ---- stats and reset
    _, _, s = c.json("GET", "/_mock/stats")
    check(s["requests"]["logout"] == 2 and s["requests"]["authorize"] == 0 and s["last"]["logout"] == {}, "stats counts")

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


if __name__ == "__main__":
    main()
    sys.exit(1 if failed else 0)
