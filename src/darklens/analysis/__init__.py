"""Metrics, calibration and plots of predictions (numbers and drawing kept apart)."""
