"""Everything that exists only so that scripts written for lmwrapper 0.18 run unchanged.
It imports the rest of lmwrapper; nothing below it imports it (see `.importlinter`).

Internal: 0.18 scripts use 0.18's module paths, which re-export from here.
"""
