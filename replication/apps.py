from django.apps import AppConfig


class ReplicationConfig(AppConfig):
    """Machines and their data: appliances, discovered servers, replication. Its models arrive with
    the Discover issue; the app is installed now so the layout is the one every issue builds on."""

    name = "replication"
    verbose_name = "Replication: appliances, servers and their data"
