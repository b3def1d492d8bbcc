"""The `lemo` command line: loading data, training runs and model versions, the mesh's status and dead letters,
and the benchmarks against a running mesh. It talks to the gateway through `lemo_client`, never to sidecars."""
