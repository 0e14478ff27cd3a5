"""Training side: loops, checkpoints, fine-tuning and ONNX export (needs the `train` extra)."""
