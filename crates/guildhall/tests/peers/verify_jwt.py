"""Verifies a JWT against an issuer's published keys, as a relying party does.

Usage: verify_jwt.py ISSUER TOKEN

Fetches the discovery document and the JWKS it names (fresh, no cache),
verifies the signature with joserfc and checks the issuer. Prints the key id
and issuer as JSON; any failure raises (non-zero exit).
"""
import json
import sys

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

issuer, token = sys.argv[1:3]
meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
decoded = jwt.decode(token, keys, algorithms=meta["id_token_signing_alg_values_supported"])
assert decoded.claims["iss"] == issuer, decoded.claims
print(json.dumps({"kid": decoded.header["kid"], "iss": decoded.claims["iss"]}))
