"""The one error type users see: a message that names the file or value and the fix."""


class PolicyQAError(Exception):
    """A problem the user can fix; its message is one line, shown as is."""
