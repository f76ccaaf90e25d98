"""ARM plumbing shared by every app's API handlers: paths, errors, authentication, envelopes."""
