"""Constants shared by tests (the 0.18 drop-in tests, the fake's calendar), importable by name:
`from conftest import ...` would get whichever conftest.py was imported first."""

API_KEY = "sk-test-COMPAT0123456789abcdef"

# 0.18's scripts and the seed README name models that OpenAI and Anthropic have since retired
# (gpt-3.5-turbo, gpt-4.1-nano: shut down 2026-10-23). Their tests check that such code runs
# as written, so their fake server answers as the APIs did on this day, when every model they
# name was served; what a retired model does today is tests/test_model_not_found.py's.
import datetime as _dt

SERVED_DAY = _dt.date(2026, 1, 2)
# The day the suite and its fake server stand on ($LMWRAPPER_TODAY, set in tests/conftest.py).
SUITE_DAY = _dt.date(2026, 12, 7)
