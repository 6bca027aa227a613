"""Errors the user can fix. The CLI prints their message on one line and exits with code 2."""


class UserError(Exception):
    """Bad input the user can fix: the message names the problem and what to do."""
