"""Shipped model weights (``*.safetensors``) and their ``MANIFEST.json``; data only."""
