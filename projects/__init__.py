"""The Azure side the user sets up: directory, RBAC, subscriptions, resource groups, networks, and
Azure Migrate projects with their tools.

- models.py: tenants, users, directory roles, subscriptions, resource groups, role assignments,
  projects and solutions, virtual networks, what Create resources makes, availability sets;
- access.py: every Permission and the checks for portal, API and websocket; roles.py: built-in roles;
- services.py: the workflows (create, delete, add tools, assign roles); jobs.py: their job scenarios;
- tool_cards.py: where a tool's app registers its card on the Servers blade;
- names.py, addresses.py, regions.py: Azure's naming, address and region rules;
- arm/: the ARM API by resource provider; graph.py: the Microsoft Graph sliver;
- portal/: the blades (urls.py: their routes); forms.py: the Add tools wizard;
- deletion.py: what deleting a project or a resource group removes, in order, and what refuses it;
- management/commands/seed_demo.py: the demo world.
"""
