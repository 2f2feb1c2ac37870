import sys

from ccr.cli.main import main

sys.exit(main())
