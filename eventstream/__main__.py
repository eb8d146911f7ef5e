"""Allow ``python -m eventstream``."""

from eventstream.cli import main

main()
