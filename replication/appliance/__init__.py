"""The Migrate Hub replication appliance: configuration server + process server.

This package runs on the on-premises machine, not in the hub, and never imports Django. It uses
Python 3's standard library, except the process server's compression and encryption (zstandard,
cryptography): without them the configuration server still runs and the process server reports
itself stopped. The hub serves it, zipped with its scripts, as the appliance installer (Discover >
Install a replication appliance)."""

VERSION = "1.0.0"
