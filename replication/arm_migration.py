"""ARM: Site Recovery migration items, recovery points, policies and jobs."""

urlpatterns: list = []
