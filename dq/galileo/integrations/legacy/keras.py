"""``dataquality.integrations.legacy.keras``: the same API as :mod:`dq.galileo.integrations.keras`."""

from dq.galileo.integrations.keras import (
    DataQualityCallback,
    DataQualityLoggingLayer,
    add_ids_to_numpy_arr,
    add_sample_ids,
    split_into_ids_and_numpy_arr,
)

__all__ = [
    "DataQualityCallback",
    "DataQualityLoggingLayer",
    "add_ids_to_numpy_arr",
    "add_sample_ids",
    "split_into_ids_and_numpy_arr",
]
