"""Built-in hardware profiles (YAML), loaded by :func:`verisnn.hardware.load_profile`."""
