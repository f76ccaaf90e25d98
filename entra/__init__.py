"""Microsoft Entra ID (Azure AD) app registrations: applications, their client secrets and service
principals, for tools that sign in as an application.

- models.py: Application, ClientSecret (kept as SHA-256); the service principal is a projects.User;
- services.py: create and delete applications, add and remove secrets, create-for-rbac, client sign-in;
- portal.py, urls.py: Azure Active Directory > App registrations (templates/entra/);
- graph.py: Microsoft Graph's applications, servicePrincipals and directoryObjects/getByIds;
- management/commands/create_service_principal.py: `az ad sp create-for-rbac`'s JSON without az.
"""
