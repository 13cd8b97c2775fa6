"""The application: the graph's declaration (nodes, parameter files, launch arguments), bringup, the
client that drives a running graph, and what is built on it (graph evaluation, fault suite, demo)."""
