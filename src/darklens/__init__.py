"""darklens: decode dark-matter properties from strong gravitational lensing images."""

__version__ = "0.1.0"
