"""Python 2/3 names from multicorn2's `multicorn.compat`, which FDWs written for multicorn2
(its own test FDW among them) import. On Python 3 they are the builtins."""

unicode_ = str
basestring_ = str


def bytes_(text):
    """Text to bytes in UTF-8, as multicorn2's `bytes_` on Python 3."""
    return bytes(text, "utf8")


__all__ = ["unicode_", "basestring_", "bytes_"]
