"""Copy this folder to start a new baseline (see README.md in this folder)."""
