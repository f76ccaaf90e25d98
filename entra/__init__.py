"""Microsoft Entra ID: app registrations and their service principals, and signing in.

- models.py: applications, client secrets (hashed), refresh tokens (hashed), pending device codes;
- services.py: create and delete applications, add secrets, authenticate a client (SignInFailed);
- signin.py: the OAuth 2.0 grants (client credentials, password, refresh token, device code), the
  resources a scope names, the token answers;
- endpoints.py, urls.py: the endpoints at the hub's root per directory (discovery, keys, token, device
  code), with Entra's error shape;
- portal.py: /devicelogin, where a signed-in person confirms a device code sign-in.
"""
