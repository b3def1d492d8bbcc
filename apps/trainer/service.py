"""The trainer's operations, which its routes (the runs API, the tenants' training and models API, the cron
triggers) delegate to: start and follow workflows, and move a tenant's active model versions."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from dapr.aio.clients import DaprClient
from dapr.ext.workflow.aio import DaprWorkflowClient
from fastapi import status

from apps.shared.errors import ApiError
from apps.shared.observability import TRAINING_RUNS
from apps.shared.settings import MODELS_TOPIC
from apps.shared.workflow_state import workflow_state
from apps.trainer.settings import TrainerSettings
from apps.trainer.watchdog import RunLedger
from lemo.popularity import archived_marker_key, popularity_due
from lemo.registry import ModelVersion, TrainOptions
from lemo.stores.ports import ModelVersions, TenantList, TenantsWithData
from workflows.cleanup import CLEANUP_WORKFLOW, CleanupRequest
from workflows.popularity import POPULARITY_WORKFLOW, PopularityRequest
from workflows.popularity_activities import popular_state_key
from workflows.training import TRAIN_WORKFLOW, TrainRequest
from workflows.training_activities import activation_event

logger = logging.getLogger(__name__)


# Tenants one popularity cron tick looks at, at most.
MAX_TENANTS = 100_000


def run_id_for(tenant_id: str) -> str:
    return f"train-{tenant_id}-{uuid.uuid4().hex[:12]}"


@dataclass
class Trainer:
    settings: TrainerSettings
    workflows: DaprWorkflowClient
    dapr: DaprClient
    registry: ModelVersions
    archive: TenantsWithData
    items: TenantsWithData
    exposures: TenantsWithData
    tenants: TenantList
    # The runs the watchdog follows (apps/trainer/watchdog.py); None: runs are started unwatched.
    open_runs: RunLedger | None = None

    async def start_popularity(self, request: PopularityRequest) -> str:
        return await self.workflows.schedule_new_workflow(POPULARITY_WORKFLOW, input=request.model_dump())

    async def run_status(self, instance_id: str) -> dict[str, Any] | None:
        """Any workflow run's state, None when there is none."""
        state = await workflow_state(self.workflows, instance_id)
        if state is None:
            return None
        output = state.serialized_output
        return {
            "instance_id": instance_id,
            "workflow": state.name,
            "status": state.runtime_status.name,
            "output": json.loads(output) if output else None,
            "failure": state.failure_details.message if state.failure_details else None,
        }

    async def popularity_for_all(self) -> list[str]:
        """One popularity run per tenant whose list is missing, stale, or older than its archive's last events
        (lemo.popularity.popularity_due); the tenants from their own collection, not from a scan of the archive."""
        tenant_ids = [t.tenant_id for t in await self.tenants.all(MAX_TENANTS)]
        computed_at: dict[str, float] = {}
        archived_at: dict[str, float] = {}
        keys = [k for t in tenant_ids for k in (popular_state_key(t), archived_marker_key(t))]
        for i in range(0, len(keys), 1000):
            found = await self.dapr.get_bulk_state(self.settings.state_store, keys[i : i + 1000])
            for item in found.items:
                if not item.data:
                    continue
                value = json.loads(item.data)
                if item.key.startswith(popular_state_key("")):
                    computed_at[value["tenant_id"]] = float(value["computed_at"])
                else:
                    archived_at[item.key.split(":", 1)[1]] = float(value["at"])
        due = popularity_due(tenant_ids, computed_at, archived_at, time.time(), self.settings.popularity_max_age_s)
        settle_s = self.settings.popularity_settle_s
        return [
            await self.start_popularity(PopularityRequest(tenant_id=tenant_id, settle_s=settle_s)) for tenant_id in due
        ]

    async def cleanup(self) -> dict[str, Any]:
        """One cleanup run over every tenant with events, items or served lists."""
        tenants = sorted(
            set(await self.archive.tenants()) | set(await self.items.tenants()) | set(await self.exposures.tenants())
        )
        cleanup = CleanupRequest(
            tenant_ids=tenants,
            retention_days=self.settings.archive_retention_days,
            keep_versions=self.settings.keep_versions,
            keep_runs_days=self.settings.keep_runs_days,
            exposure_retention_days=self.settings.exposure_retention_days,
        )
        instance_id = await self.workflows.schedule_new_workflow(CLEANUP_WORKFLOW, input=cleanup.model_dump())
        return {"instance_id": instance_id, "tenants": len(tenants)}

    async def start_training(self, tenant_id: str, options: TrainOptions) -> str:
        try:
            train = TrainRequest.model_validate({"tenant_id": tenant_id, **options.model_dump(exclude_none=True)})
        except ValueError as exc:
            raise ApiError(status.HTTP_422_UNPROCESSABLE_ENTITY, "invalid_train_request", str(exc)) from exc
        TRAINING_RUNS.labels("api").inc()
        run_id = run_id_for(tenant_id)
        await self._watch(run_id, tenant_id)
        return await self.workflows.schedule_new_workflow(
            TRAIN_WORKFLOW, input=train.model_dump(mode="json"), instance_id=run_id
        )

    async def _watch(self, run_id: str, tenant_id: str) -> None:
        """Into the watchdog's ledger before the run exists, so a crash right after its start is covered too (an
        entry whose run never started leaves at the watchdog's next pass)."""
        if self.open_runs is not None:
            await self.open_runs.add(run_id, tenant_id)

    async def training_run(self, tenant_id: str, run_id: str) -> dict[str, Any]:
        """The tenant's training run; a run of another tenant is answered like one that does not exist."""
        state = await workflow_state(self.workflows, run_id) if run_id.startswith(f"train-{tenant_id}-") else None
        owner = json.loads(state.serialized_input or "{}").get("tenant_id") if state is not None else None
        if state is None or state.name != TRAIN_WORKFLOW or owner != tenant_id:
            raise ApiError(status.HTTP_404_NOT_FOUND, "run_not_found", f"no training run {run_id}")
        custom = state.serialized_custom_status
        output = state.serialized_output
        return {
            "run_id": run_id,
            "status": state.runtime_status.name,
            "progress": json.loads(custom) if custom else None,
            "output": json.loads(output) if output else None,
            "failure": state.failure_details.message if state.failure_details else None,
        }

    async def nightly_training(self) -> list[str]:
        """One training run per tenant with archived events. The run id names the day, so a binding that fires
        twice (a restart, several trainer replicas) still starts one run per night."""
        day = time.strftime("%Y%m%d", time.gmtime())
        started = []
        for tenant_id in await self.archive.tenants():
            run_id = f"train-{tenant_id}-nightly-{day}"
            if await workflow_state(self.workflows, run_id, fetch_payloads=False) is not None:
                continue
            await self._watch(run_id, tenant_id)
            await self.workflows.schedule_new_workflow(
                TRAIN_WORKFLOW, input=TrainRequest(tenant_id=tenant_id).model_dump(mode="json"), instance_id=run_id
            )
            started.append(run_id)
            TRAINING_RUNS.labels("cron").inc()
        return started

    async def model_versions(self, tenant_id: str, kind: str | None, limit: int) -> dict[str, Any]:
        versions = await self.registry.versions(tenant_id, kind, limit)
        active = {v.kind: v.version for v in versions if v.status == "active"}
        return {"active": active, "versions": [v.model_dump(mode="json", exclude={"tenant_id"}) for v in versions]}

    async def activate(self, tenant_id: str, kind: str, version_number: int) -> dict[str, Any]:
        version = await self.registry.activate(tenant_id, kind, version_number)
        if version is None:
            raise ApiError(
                status.HTTP_404_NOT_FOUND, "version_not_found", f"no {kind} version {version_number} to activate"
            )
        return await self._announced(tenant_id, version)

    async def rollback(self, tenant_id: str, kind: str) -> dict[str, Any]:
        """Re-activates the version that was active before the current one."""
        previous = await self.registry.previous(tenant_id, kind)
        if previous is None:
            raise ApiError(status.HTTP_409_CONFLICT, "no_previous_version", f"no earlier active {kind} version")
        version = await self.registry.activate(tenant_id, kind, previous.version)
        if version is None:
            raise ApiError(
                status.HTTP_409_CONFLICT, "no_previous_version", f"{kind} version {previous.version} is gone"
            )
        return await self._announced(tenant_id, version)

    async def _announced(self, tenant_id: str, version: ModelVersion) -> dict[str, Any]:
        """Publishes the activation (the serving apps reload on it) and answers the version."""
        await self.dapr.publish_event(
            self.settings.pubsub_name,
            MODELS_TOPIC,
            json.dumps(activation_event(tenant_id, version)),
            data_content_type="application/json",
        )
        return version.model_dump(mode="json", exclude={"tenant_id"})
