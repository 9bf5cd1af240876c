"""One module per dataset, each registering its loader with :func:`dlab.data.dataset`."""
