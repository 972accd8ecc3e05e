import sys

from lmwrapper.cli import main

sys.exit(main())
