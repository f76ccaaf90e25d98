"""The Migrate Hub replication appliance: configuration server + process server.

This package runs on the on-premises machine, not in the hub: it uses only Python 3's standard
library and never imports Django. The hub serves it, zipped with its scripts, as the appliance
installer (Discover > Install a replication appliance)."""

VERSION = "1.0.0"
