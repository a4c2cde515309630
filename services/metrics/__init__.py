"""The metrics service: rollups of execution events and the GetMetrics query over them."""
