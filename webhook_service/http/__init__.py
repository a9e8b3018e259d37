"""HTTP layer: blueprints that only translate between HTTP and the core."""
