"""``python -m colorbatch``: the same as the ``colorbatch`` command."""

from colorbatch.cli import main

main()
