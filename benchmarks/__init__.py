"""Performance measurements, each printed as a ratio against a baseline in the same run."""
