"""Root pytest configuration: the real-server fixtures are shared by every test folder."""

pytest_plugins = ["labs_core.testing"]
