"""One module per ``colorbatch`` command (``common`` holds what they share); ``colorbatch.cli``
assembles them into the command group."""
