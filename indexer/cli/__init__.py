"""The `indexer` command: parse, call, print. Library errors become one-line `Error: …` messages.

`app` holds the group and what its commands share (the context, logging, error handling, the
database connection, progress lines); each other module holds one command or family of them,
which registers itself on the group when imported here.
"""

from indexer.cli.app import main  # noqa: F401  (the console script: indexer.cli:main)
from indexer.cli import database, export, labels, report, status, sync, verify  # noqa: F401,E402
