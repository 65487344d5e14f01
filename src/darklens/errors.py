"""The exception type for user mistakes (bad config, bad file); the CLI prints it as one line."""


class DarklensError(Exception):
    """A user-facing error: the message names the file or field and what was expected."""
