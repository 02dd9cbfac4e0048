"""``python -m simtrial.cli run ...``."""

import sys

from simtrial.cli.main import main

sys.exit(main())
