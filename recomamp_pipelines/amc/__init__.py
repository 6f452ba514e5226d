"""The Amazon Marketing Cloud API client.

Typical use:

config = AmcConfig.from_settings(load_settings())
with AmcClient(config, refresh_token, advertiser_id=account_id, marketplace_id=mkt) as amc:
    instance = amc.instance("amcibersblt")
    execution = instance.create_execution(TimeWindow(start, end, "America/New_York"), sql=sql)
    final = instance.poll_until_terminal(execution.workflow_execution_id)
    instance.download_results(final.workflow_execution_id, "result.csv")
"""

from __future__ import annotations

from recomamp_pipelines.amc.auth import REGIONS, AmcConfig, Region, TokenProvider, region
from recomamp_pipelines.amc.client import AmcClient, InstanceClient, PollPolicy
from recomamp_pipelines.amc.download import DownloadSummary
from recomamp_pipelines.amc.errors import (
    AmcApiError,
    AmcAuthError,
    AmcBadRequest,
    AmcConfigError,
    AmcDownloadError,
    AmcDownloadNotReady,
    AmcError,
    AmcForbidden,
    AmcNotFound,
    AmcRateLimited,
    AmcRetryableError,
    AmcServerError,
    AmcTimeWindowError,
    AmcTransportError,
    AmcUnauthorized,
    AmcUnknownStatus,
)
from recomamp_pipelines.amc.models import (
    AmcAccount,
    AmcExecution,
    AmcInstance,
    AmcStatus,
    AmcWorkflow,
    DownloadUrls,
    OutputColumn,
    ProjectStatus,
    StatusOutcome,
    TimeWindow,
    outcome_of,
    timeout_outcome,
)
from recomamp_pipelines.amc.ratelimit import RateLimit
from recomamp_pipelines.amc.retry import RetryPolicy

__all__ = [
    "REGIONS",
    "AmcAccount",
    "AmcApiError",
    "AmcAuthError",
    "AmcBadRequest",
    "AmcClient",
    "AmcConfig",
    "AmcConfigError",
    "AmcDownloadError",
    "AmcDownloadNotReady",
    "AmcError",
    "AmcExecution",
    "AmcForbidden",
    "AmcInstance",
    "AmcNotFound",
    "AmcRateLimited",
    "AmcRetryableError",
    "AmcServerError",
    "AmcStatus",
    "AmcTimeWindowError",
    "AmcTransportError",
    "AmcUnauthorized",
    "AmcUnknownStatus",
    "AmcWorkflow",
    "DownloadSummary",
    "DownloadUrls",
    "InstanceClient",
    "OutputColumn",
    "PollPolicy",
    "ProjectStatus",
    "RateLimit",
    "Region",
    "RetryPolicy",
    "StatusOutcome",
    "TimeWindow",
    "TokenProvider",
    "outcome_of",
    "region",
    "timeout_outcome",
]
