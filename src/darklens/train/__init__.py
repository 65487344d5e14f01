"""Training: config, optimisers (SAM), the loop, and the model export."""
