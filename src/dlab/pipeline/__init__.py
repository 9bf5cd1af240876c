"""The run pipeline every entry point shares: one typed request, then resolve, check, start, load
data, build, train and write (:mod:`.request`, :mod:`.steps`)."""
