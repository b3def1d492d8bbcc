"""The read path, one room: the stage contract (contract.py), the port to the stages (client.py), the pipeline with
its fallbacks (pipeline.py), the scenario book (scenarios.py) and the read path's settings section (settings.py).

Pure domain code: the stages are reached through a `StageClient`; the one Dapr adapter is apps/shared/stage_client.py.
The gateway (online requests) and the recommend workflow's activities (precomputed feeds) call the same steps.
"""
