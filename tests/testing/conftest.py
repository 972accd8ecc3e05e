from lmwrapper.testing.pytest_plugin import fake_server  # noqa: F401
