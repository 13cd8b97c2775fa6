"""Tools for people working on the package: doctor, the reference generator, topic statistics and the
benchmarks of each layer (``vla-ros bench``)."""
