"""The project ``dlab init`` writes: configs, a model function, dlab.toml, a README (copied as files)."""
