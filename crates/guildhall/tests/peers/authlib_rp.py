"""An independently written relying party (Authlib + joserfc) signing a person in.

After the sign-in it refreshes (rotation), checks that reusing a spent
refresh token kills the family, introspects and revokes tokens, and signs
out through end-session.

Usage: authlib_rp.py BASE_URL CLIENT_ID CLIENT_SECRET EMAIL PASSWORD REDIRECT_URI

Signs in through the login form like a browser, runs the authorization code
flow with PKCE using Authlib's OAuth2Session, validates the ID token against
the JWKS with joserfc, calls userinfo, and prints one JSON object with what
it saw. Any failure raises (non-zero exit).
"""
import json
import re
import secrets
import sys

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

base, client_id, client_secret, email, password, redirect_uri = sys.argv[1:7]

meta = requests.get(f"{base}/.well-known/openid-configuration", timeout=10).json()
assert meta["issuer"] == base, meta

# Sign in like a browser (the one-step form, with its CSRF token).
browser = requests.Session()
page = browser.get(f"{base}/login?form=single", timeout=10).text
csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
res = browser.post(
    f"{base}/login",
    data={"csrf": csrf, "email": email, "password": password, "form": "single", "return_to": "/"},
    allow_redirects=False,
    timeout=10,
)
assert res.status_code == 303, (res.status_code, res.text[:300])

client = OAuth2Session(
    client_id,
    client_secret,
    scope="openid profile email offline_access workspaces:read",
    redirect_uri=redirect_uri,
    code_challenge_method="S256",
    token_endpoint_auth_method="client_secret_basic",
)
verifier = generate_token(64)
nonce = secrets.token_urlsafe(16)
uri, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
res = browser.get(uri, allow_redirects=False, timeout=10)
assert res.status_code in (302, 303), (res.status_code, res.text[:300])
callback = res.headers["Location"]
assert callback.startswith(redirect_uri), callback
token = client.fetch_token(
    meta["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state
)

keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
id_token = jwt.decode(token["id_token"], keys, algorithms=meta["id_token_signing_alg_values_supported"])
jwt.JWTClaimsRegistry(
    iss={"essential": True, "value": meta["issuer"]},
    aud={"essential": True, "value": client_id},
    nonce={"essential": True, "value": nonce},
    exp={"essential": True},
).validate(id_token.claims)

userinfo = client.get(meta["userinfo_endpoint"], timeout=10).json()
assert userinfo["sub"] == id_token.claims["sub"], (userinfo, id_token.claims)

# The access token calls Guildhall's REST API for the person's workspaces.
workspaces = client.get(f"{base}/api/v1/workspaces", timeout=10)
assert workspaces.status_code == 200, (workspaces.status_code, workspaces.text)
workspace_slugs = [w["slug"] for w in workspaces.json()["workspaces"]]

# Refresh with rotation: a new refresh token each time.
first_refresh = token["refresh_token"]
rotated = client.refresh_token(meta["token_endpoint"], refresh_token=first_refresh)
assert rotated["refresh_token"] != first_refresh, "not rotated"
assert client.get(meta["userinfo_endpoint"], timeout=10).status_code == 200

# Introspection of the live access token.
seen = client.introspect_token(meta["introspection_endpoint"], token=rotated["access_token"]).json()
assert seen["active"] is True and seen["client_id"] == client_id, seen

# Reusing the spent refresh token fails and revokes the family.
reuse = requests.post(
    meta["token_endpoint"],
    data={"grant_type": "refresh_token", "refresh_token": first_refresh},
    auth=(client_id, client_secret),
    timeout=10,
)
assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant", reuse.text
family_dead = client.introspect_token(meta["introspection_endpoint"], token=rotated["access_token"]).json()
assert family_dead["active"] is False, family_dead

# A fresh sign-in, then revocation of its refresh token (RFC 7009).
uri, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
callback = browser.get(uri, allow_redirects=False, timeout=10).headers["Location"]
token2 = client.fetch_token(
    meta["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state
)
assert client.revoke_token(meta["revocation_endpoint"], token=token2["refresh_token"]).status_code == 200
after = client.introspect_token(meta["introspection_endpoint"], token=token2["access_token"]).json()
assert after["active"] is False, after

# RP-initiated logout with the ID token as hint: the session ends.
end = browser.get(
    meta["end_session_endpoint"],
    params={"id_token_hint": token2["id_token"], "post_logout_redirect_uri": redirect_uri, "state": "bye"},
    allow_redirects=False,
    timeout=10,
)
assert end.status_code in (302, 303) and end.headers["Location"].startswith(redirect_uri), end.status_code
signed_out = browser.get(uri, allow_redirects=False, timeout=10)
assert signed_out.headers["Location"].startswith("/login"), signed_out.headers.get("Location")

print(json.dumps({"id_token": id_token.claims, "userinfo": userinfo, "alg": id_token.header["alg"],
                  "workspaces": workspace_slugs, "checked": [
    "refresh-rotation", "introspection", "reuse-revokes-family", "revocation", "end-session"]}))
