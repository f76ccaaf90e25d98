"""Portal pages: see the module docstring once written."""

urlpatterns: list = []
