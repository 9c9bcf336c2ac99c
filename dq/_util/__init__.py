"""dq's private helpers: input checks (validate), atomic files (fileio), SQLite files (sqlite), text (text).

Nothing here is public API; the rest of dq imports from these modules rather than repeating them.
"""
