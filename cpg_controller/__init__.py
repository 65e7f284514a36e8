"""Spiking central pattern generators: neurons, networks, gaits, decoding, feedback."""
