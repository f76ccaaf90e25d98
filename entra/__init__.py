"""Microsoft Entra ID (Azure AD): app registrations (applications, their client secrets and service
principals) and signing in, as people and as applications.

- models.py: Application, ClientSecret (kept as SHA-256; the service principal is a projects.User),
  RefreshToken (kept as SHA-256), DeviceCode (pending device code sign-ins);
- services.py: create and delete applications, add and remove secrets, create-for-rbac, client sign-in;
- signin.py: the OAuth 2.0 grants (client credentials, password, refresh token, device code), the
  resource a scope names, the token answers (tokens themselves: hub.access_tokens);
- endpoints.py: the sign-in endpoints at the hub's root per directory (discovery, keys, token, device
  code), with Entra's error shape;
- portal.py, urls.py: Azure Active Directory > App registrations (templates/entra/);
- device_login.py: /devicelogin, where a signed-in person confirms a device code sign-in;
- graph.py: Microsoft Graph's applications, servicePrincipals and directoryObjects/getByIds;
  graph_schema.py: their bodies in the OpenAPI document;
- management/commands/create_service_principal.py: `az ad sp create-for-rbac`'s JSON without az.
"""
