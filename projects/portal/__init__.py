"""The portal blades of the Azure side, one module per blade family: home and search, Azure Migrate
(overview, servers, Add tools), resource groups and subscriptions, access control (IAM), virtual
networks, and the directory (Azure Active Directory)."""
