"""The Migrate Hub mobility agent. Runs on the machine to migrate; Python 3's standard library only."""

VERSION = "9.60.0"
