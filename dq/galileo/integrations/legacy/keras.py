"""``dataquality.integrations.legacy.keras``: the same API as :mod:`dq.galileo.integrations.keras`."""

from dq.galileo.integrations.keras import *  # noqa: F403 - the very same names
from dq.galileo.integrations.keras import __all__  # noqa: F401
