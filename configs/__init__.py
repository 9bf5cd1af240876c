"""The packaged YAML configs (shipped in the wheel as ``dlab.configs``)."""
