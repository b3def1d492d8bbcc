import sys

from lemo_cli.main import main

sys.exit(main())
