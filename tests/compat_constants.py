"""Constants of the 0.18 drop-in tests (tests/compat), importable by name from any test:
`from conftest import ...` would get whichever conftest.py was imported first."""

API_KEY = "sk-test-COMPAT0123456789abcdef"
