"""ARM plumbing shared by every app's API handlers; it knows nothing of the apps above it.

- views.py: ArmView (api-version, ARM headers, the `resolve_parents` hook that looks a URL's parents
  up once) and the response helpers (lists, a PUT's 201 or 200, 202 for long-running operations, HEAD,
  DELETE, bodies validated by a serializer);
- routes.py: the subscription and resource-group URL prefixes and the routes of a tracked resource;
- bodies.py: reading request bodies field by field; odata.py: $filter clauses and paging;
- paths.py: ARM path casing and id parsing; errors.py: the error envelope; auth.py: bearer tokens;
  middleware.py: path casing and Server-Timing; parsers.py: JSON bodies within size and nesting caps;
- schema.py: the OpenAPI document's ARM conventions, added to every operation once, and the shapes
  views declare with (a tracked or proxy resource, a list of one, a create-or-update PUT)."""
