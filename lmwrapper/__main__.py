import sys

from lmwrapper.cli.main import main

sys.exit(main())
