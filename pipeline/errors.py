"""Errors the CLI reports on one line: UserError (exit code 2) and StageFailed (exit code 1)."""


class UserError(Exception):
    """Bad input the user can fix: the message names the problem and what to do."""


class StageFailed(Exception):
    """A stage ran and every input failed (e.g. every record of every WARC was a bad_record),
    so its output is empty for a reason other than the data: the message says what failed
    first and what to check."""
