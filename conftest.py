"""Settings for in-process tests only (the live hubs in tests/ are separate processes with the real
settings): a fast password hasher, since the demo seed hashes a password per user per test."""


def pytest_configure(config):
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
