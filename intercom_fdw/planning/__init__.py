"""Pure planning: conditions, columns, sort keys and limits in; a ScanPlan out. No I/O imports."""
from intercom_fdw.planning.plan import ApiCall, ChildCalls, ExtendedRequests, ScanPlan
from intercom_fdw.planning.quals import Condition, condition_from_qual, conditions_from_qual
from intercom_fdw.planning.scan import ScanOptions, SortKey, path_keys, plan_scan, supported_sortkeys

__all__ = [
    "ApiCall", "ChildCalls", "Condition", "ExtendedRequests", "ScanOptions", "ScanPlan", "SortKey",
    "condition_from_qual", "conditions_from_qual", "path_keys", "plan_scan", "supported_sortkeys",
]
