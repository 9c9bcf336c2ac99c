"""``dataquality.integrations.legacy``: the Keras layer-and-callback API under its later module name."""
