"""Inference: read images, predict with one model or an ensemble, write tables."""
