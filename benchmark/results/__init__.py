"""Results: the tidy schema, the per-run append-only metrics writer, and the merge into one parquet table."""
