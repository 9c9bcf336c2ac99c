"""dq studio's console as installed: ``dq console`` serves this file (each screen is a file in ``pages/``)."""

from dq_console.entry import main

main()
