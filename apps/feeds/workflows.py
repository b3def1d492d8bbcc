"""The feeds app's workflow runtime: the recommend and feed-refresh workflows and their activities, under stable
names."""

from __future__ import annotations

from dapr.ext.workflow import WorkflowRuntime
from dapr.ext.workflow.logger import LoggerOptions

from apps.feeds.settings import FeedsSettings
from lemo.serving.settings import ReadPathSettings
from workflows import recommend_activities as act
from workflows.feed_refresh import FEED_REFRESH_WORKFLOW, refresh_feeds_workflow
from workflows.recommend import RECOMMEND_WORKFLOW, recommend_workflow

# The SDK logs every workflow step at INFO; at one workflow per refreshed feed that drowns the app's own logs.
QUIET = LoggerOptions(log_level="WARNING")


def build_runtime(settings: FeedsSettings) -> WorkflowRuntime:
    act.configure(
        act.ActivityDeps(
            mongodb_uri=settings.mongodb_uri,
            mongodb_database=settings.mongodb_database,
            state_store=settings.state_store,
            read_path=ReadPathSettings.section(settings),
            feed_ttl_s=settings.feed_ttl_s,
            degraded_feed_ttl_s=settings.degraded_feed_ttl_s,
            feeds_at_once=settings.refresh_feeds_at_once,
        )
    )
    runtime = WorkflowRuntime(
        logger_options=QUIET, maximum_concurrent_activity_work_items=settings.max_concurrent_activities
    )
    runtime.register_workflow(recommend_workflow, name=RECOMMEND_WORKFLOW)
    runtime.register_workflow(refresh_feeds_workflow, name=FEED_REFRESH_WORKFLOW)
    for name, activity in act.ACTIVITIES.items():
        runtime.register_activity(activity, name=name)
    return runtime
