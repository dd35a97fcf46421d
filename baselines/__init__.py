"""Baseline methods, one folder each; the harness reaches them only through ``benchmark.registry``."""
